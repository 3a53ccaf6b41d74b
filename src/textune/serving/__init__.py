"""Running a trained model: ONNX export and runtime (`onnx`), batch prediction over large
files (`batch`) and the HTTP service (`http`)."""
