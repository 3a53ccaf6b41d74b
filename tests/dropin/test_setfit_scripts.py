"""setfit scripts run under textune with only the import changed (`from setfit import ...` ->
`from textune.setfit import ...`), offline, on SST-2, and score what the native API scores
on the same rows. The two scripts are the setfit 1.x README quickstart and the 0.x shape of
the SetFit blog post; only their data source (local files instead of the hub), the model
path and, in the blog script, the sample (16 per class from `sample_dataset` rather than 16
random rows, whose accuracy sits at chance) differ from the originals."""

import numpy as np
import pytest

from tests.conftest import shared_file
from textune import TextClassifier

QUICKSTART_1X = '''
from setfit import SetFitModel, Trainer, TrainingArguments, sample_dataset

dataset = load_dataset("sst2")

# Simulate the few-shot regime by sampling 8 examples per class
train_dataset = sample_dataset(dataset["train"], label_column="label", num_samples=8)
eval_dataset = dataset["validation"].select(range(100))
test_dataset = dataset["validation"].select(range(100, len(dataset["validation"])))

model = SetFitModel.from_pretrained(
    "sentence-transformers/all-MiniLM-L6-v2",
    labels=["negative", "positive"],
)

args = TrainingArguments(
    batch_size=16,
    num_epochs=4,
    eval_strategy="epoch",
    save_strategy="epoch",
    load_best_model_at_end=True,
)

trainer = Trainer(
    model=model,
    args=args,
    train_dataset=train_dataset,
    eval_dataset=eval_dataset,
    metric="accuracy",
    column_mapping={"sentence": "text", "label": "label"}
)

trainer.train()
metrics = trainer.evaluate(test_dataset)
print(metrics)

model.save_pretrained("setfit-minilm-sst2-8-shot")
model = SetFitModel.from_pretrained("setfit-minilm-sst2-8-shot")
preds = model.predict(["i loved the spiderman movie!", "pineapple on pizza is the worst 🤮"])
print(preds)
'''

BLOG_0X = '''
from sentence_transformers.losses import CosineSimilarityLoss
from setfit import SetFitModel, SetFitTrainer, sample_dataset

dataset = load_dataset("sst2")
train_dataset = sample_dataset(dataset["train"], label_column="label", num_samples=16)
eval_dataset = dataset["validation"]

model = SetFitModel.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")

trainer = SetFitTrainer(
    model=model,
    train_dataset=train_dataset,
    eval_dataset=eval_dataset,
    loss_class=CosineSimilarityLoss,
    metric="accuracy",
    batch_size=16,
    num_iterations=20,
    num_epochs=1,
    column_mapping={"sentence": "text", "label": "label"},
)
trainer.train()
metrics = trainer.evaluate()
preds = model(["i loved the spiderman movie!", "pineapple on pizza is the worst 🤮"])
'''


@pytest.fixture(scope="module")
def sst2_hub():
    """What `load_dataset("sst2")` gives (columns idx, sentence, label), from the local files."""
    import pandas as pd
    from datasets import Dataset, DatasetDict

    def read(name):
        frame = pd.read_csv(shared_file(name), sep="\t", quoting=3)
        frame = frame.rename(columns={"content": "sentence"})
        frame.insert(0, "idx", range(len(frame)))
        return Dataset.from_pandas(frame[["idx", "sentence", "label"]], preserve_index=False)

    return DatasetDict(train=read("sst2_train.tsv"), validation=read("sst2_dev.tsv"))


def run_swapped(script: str, sst2_hub) -> dict:
    """Run a setfit script with its import swapped for textune's; return its variables."""
    assert "from setfit import" in script
    swapped = script.replace("from setfit import", "from textune.setfit import")
    namespace = {"load_dataset": lambda name: sst2_hub}
    exec(compile(swapped, "<setfit script>", "exec"), namespace)
    return namespace


def native_accuracy(train, test, names=None) -> float:
    """textune's own API on the same rows (setfit's default seed), with the label names the
    script gave its model (`names[id]`): named labels get label-name anchors either way."""
    name = (lambda i: names[i]) if names else (lambda i: i)  # noqa: E731
    clf = TextClassifier(method="setfit", seed=42).fit(train["sentence"],
                                                       [name(i) for i in train["label"]])
    return clf.score(test["sentence"], [name(i) for i in test["label"]])


@pytest.mark.slow
def test_the_setfit_1x_quickstart_runs_as_written(sst2_hub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = run_swapped(QUICKSTART_1X, sst2_hub)
    trainer, metrics, preds = ns["trainer"], ns["metrics"], ns["preds"]

    assert set(metrics) == {"accuracy"}
    native = native_accuracy(ns["train_dataset"], ns["test_dataset"],
                             names=["negative", "positive"])
    assert metrics["accuracy"] > 0.55  # above chance on 772 test rows
    assert abs(metrics["accuracy"] - native) <= 0.05, (metrics, native)

    # evaluated every epoch on the eval set, best body restored, a checkpoint per epoch
    history = trainer.state.log_history
    assert [r["epoch"] for r in history] == [1.0, 2.0, 3.0, 4.0]
    losses = [r["eval_embedding_loss"] for r in history]
    assert trainer.state.best_metric == min(losses)
    best = trainer.state.best_model_checkpoint
    assert best and (tmp_path / best / "modules.json").is_file()  # a sentence-transformers body

    # the saved folder reloads with the names, and answers as the trained model did
    assert isinstance(preds, list) and set(preds) <= {"negative", "positive"}
    trained = trainer.model
    reloaded = ns["model"]
    texts = list(ns["test_dataset"]["sentence"][:50])
    assert reloaded.predict(texts) == trained.predict(texts)
    np.testing.assert_allclose(reloaded.predict_proba(texts, as_numpy=True),
                               trained.predict_proba(texts, as_numpy=True), atol=1e-6)
    ids = reloaded.predict(texts, use_labels=False)
    assert [reloaded.labels[i] for i in ids.tolist()] == reloaded.predict(texts)


@pytest.mark.slow
def test_the_setfit_0x_blog_script_runs_as_written(sst2_hub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = run_swapped(BLOG_0X, sst2_hub)
    metrics, preds = ns["metrics"], ns["preds"]

    validation = sst2_hub["validation"]
    native = native_accuracy(ns["train_dataset"], validation)
    assert metrics["accuracy"] > 0.55
    assert abs(metrics["accuracy"] - native) <= 0.05, (metrics, native)
    # no labels given: setfit predicts the training labels themselves (ids 0/1) as a tensor
    assert preds.tolist() in ([0, 1], [1, 0], [0, 0], [1, 1])
    assert list(ns["trainer"].model.predict(validation["sentence"][:20], as_numpy=True)) == \
        [int(v) for v in ns["trainer"].model.classifier.predict(validation["sentence"][:20])]


# setfit's knowledge-distillation guide (huggingface.co/docs/setfit/how_to/knowledge_distillation),
# its teacher, unlabelled set and student; the data are BBC News topics (the guide uses
# ag_news from the hub), the backbones local (the guide's mpnet teacher and MiniLM-L3 student
# are hub names: TEACHER and STUDENT stand for what is installed), steps fewer
DISTILLATION_GUIDE = '''
from setfit import DistillationTrainer, SetFitModel, Trainer, TrainingArguments, sample_dataset

dataset = load_dataset("ag_news")
train_dataset = sample_dataset(dataset["train"], label_column="label", num_samples=16)
eval_dataset = dataset["test"]

teacher_model = SetFitModel.from_pretrained(TEACHER)
teacher_args = TrainingArguments(batch_size=16, num_epochs=2)
teacher_trainer = Trainer(model=teacher_model, args=teacher_args, train_dataset=train_dataset,
                          eval_dataset=eval_dataset)
teacher_trainer.train()
teacher_metrics = teacher_trainer.evaluate()

unlabeled_train_dataset = dataset["train"].shuffle(seed=0).select(range(UNLABELLED))
unlabeled_train_dataset = unlabeled_train_dataset.remove_columns("label")

student_model = SetFitModel.from_pretrained(STUDENT)
distillation_args = TrainingArguments(batch_size=16, max_steps=STEPS)
distillation_trainer = DistillationTrainer(
    teacher_model=teacher_model,
    student_model=student_model,
    args=distillation_args,
    train_dataset=unlabeled_train_dataset,
    eval_dataset=eval_dataset,
)
distillation_trainer.train()
distillation_metrics = distillation_trainer.evaluate()
'''


def news_hub(articles, headlines: bool = False):
    """What `load_dataset` gives for a news set (text, integer label), from BBC News: a
    train split and a 100-article test split; `headlines`: each article's first line only
    (short texts, for a fast run on the tiny backbone)."""
    from datasets import Dataset, DatasetDict

    topics = sorted(set(articles.labels))
    rows = np.random.default_rng(0).permutation(len(articles))
    text = (lambda t: t.strip().split("\n")[0]) if headlines else (lambda t: t)  # noqa: E731
    data = Dataset.from_dict({"text": [text(articles.texts[i]) for i in rows],
                              "label": [topics.index(articles.labels[i]) for i in rows]})
    return DatasetDict(train=data.select(range(100, len(data))), test=data.select(range(100)))


def run_distillation_guide(articles, teacher: str, student: str, unlabelled: int, steps: int,
                           headlines: bool = False):
    script = (DISTILLATION_GUIDE.replace("TEACHER", repr(teacher))
              .replace("STUDENT", repr(student)).replace("UNLABELLED", str(unlabelled))
              .replace("STEPS", str(steps)))
    return run_swapped(script, news_hub(articles, headlines))


def test_the_setfit_distillation_guide_runs_with_the_import_changed(bbc_news_articles,
                                                                     tiny_backbone):
    ns = run_distillation_guide(bbc_news_articles, tiny_backbone, tiny_backbone, 60, 20,
                                headlines=True)
    student, teacher = ns["student_model"], ns["teacher_model"]
    assert set(ns["distillation_metrics"]) == {"accuracy"}
    texts = ns["eval_dataset"]["text"][:20]
    # the student predicts the teacher's label ids, and learnt from the 60 texts given
    assert student.labels is None and teacher.labels is None
    assert set(student.predict(texts, as_numpy=True).tolist()) <= set(range(5))
    stats = student.classifier.fit_stats_["distillation"]
    assert stats["texts"] == 60 and stats["targets"] == "soft"
    assert student.classifier.labels == teacher.classifier.labels


@pytest.mark.slow
def test_the_distilled_minilm_student_comes_close_to_its_teacher(bbc_news_articles):
    """Teacher and student are both MiniLM here (the only small local sentence encoder): the
    student starts afresh from the base weights and learns from 300 unlabelled articles."""
    ns = run_distillation_guide(bbc_news_articles, "sentence-transformers/all-MiniLM-L6-v2",
                                "sentence-transformers/all-MiniLM-L6-v2", 300, 100)
    teacher, student = (ns["teacher_metrics"]["accuracy"],
                        ns["distillation_metrics"]["accuracy"])
    assert teacher > 0.85, teacher
    assert student >= teacher - 0.05, (teacher, student)
