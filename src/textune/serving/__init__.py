"""Running a trained model: the `Predictor` protocol (`predictor`) and its two runtimes
(`torch_runtime`, `onnx_runtime`), ONNX export (`onnx_export`), batch prediction over large
files (`batch`, `ray_predict`) and the HTTP service (`http`, run by `server`)."""
