"""`GET /`: one self-contained page to try the served model in a browser.

No external assets and no build step, so it works offline. It calls the same API a program
would (`/v1/model` for the model card, `/v1/classify` for predictions), so it shows exactly
what the service answers. Text is always inserted with `textContent`, never as HTML. The
API key, when the server needs one, is typed once and kept in the tab's sessionStorage.
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>textune - try the model</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f6f7f9; }
  main { max-width: 52rem; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  section, form { background: #fff; border: 1px solid #d8dce2; border-radius: 8px;
                  padding: 1rem; margin-bottom: 1rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
  dt { color: #57606a; } dd { margin: 0; }
  label { display: block; font-weight: 600; margin-bottom: .4rem; }
  textarea, input { width: 100%; box-sizing: border-box; font: inherit; padding: .5rem;
                    border: 1px solid #b8bfc8; border-radius: 6px; }
  textarea:focus, input:focus, button:focus, summary:focus {
    outline: 3px solid #0a66d8; outline-offset: 1px; }
  .row { display: flex; gap: .75rem; align-items: center; margin-top: .75rem; }
  button { font: inherit; padding: .5rem 1.2rem; border: 0; border-radius: 6px;
           background: #0a66d8; color: #fff; cursor: pointer; }
  button[disabled] { background: #8aa9d6; cursor: progress; }
  .hint { color: #57606a; font-size: .9rem; }
  details { margin-top: .75rem; }
  #error { background: #fff0f0; border: 1px solid #e5a3a3; color: #8a1111;
           border-radius: 8px; padding: .75rem 1rem; margin-bottom: 1rem; }
  .result { border-top: 1px solid #eceff3; padding: .75rem 0; }
  .result:first-child { border-top: 0; padding-top: 0; }
  .text { margin: 0 0 .5rem; white-space: pre-wrap; }
  ol { list-style: none; margin: 0; padding: 0; }
  li { display: grid; grid-template-columns: 10rem 1fr 4rem; gap: .5rem;
       align-items: center; margin: .15rem 0; }
  .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .chosen .name { font-weight: 700; }
  .track { background: #eceff3; border-radius: 4px; height: .8rem; }
  .bar { background: #9db3cf; height: 100%; border-radius: 4px; }
  .chosen .bar { background: #0a66d8; }
  .p { text-align: right; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<main>
  <h1>Try this textune model</h1>
  <section aria-labelledby="card-title">
    <h2 id="card-title" class="hint">Model</h2>
    <dl id="card"><dt>Status</dt><dd>loading...</dd></dl>
  </section>
  <form id="form">
    <label for="texts">Texts to classify, one per line</label>
    <textarea id="texts" rows="6" placeholder="One text per line"></textarea>
    <details id="key-box">
      <summary>API key</summary>
      <label for="key">API key (kept in this tab until it closes)</label>
      <input id="key" type="password" autocomplete="off">
    </details>
    <div class="row">
      <button id="submit" type="submit">Classify</button>
      <span class="hint">or press Ctrl+Enter in the text box</span>
    </div>
  </form>
  <div id="error" role="alert" hidden></div>
  <section id="results" aria-live="polite" aria-label="Results" hidden></section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const KEY = "textune-api-key";
let model = null;
$("key").value = sessionStorage.getItem(KEY) || "";

function headers() {
  const h = {"Content-Type": "application/json"};
  const key = $("key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

async function call(path, body) {
  const init = body === undefined ? {headers: headers()}
    : {method: "POST", headers: headers(), body: JSON.stringify(body)};
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new Error("The service could not be reached (" + e.message + ").");
  }
  let data = null;
  try { data = await response.json(); } catch (e) { /* not JSON */ }
  if (!response.ok) {
    const error = new Error(data && data.error ? data.error.message
                            : "The service answered HTTP " + response.status + ".");
    error.status = response.status;
    throw error;
  }
  return data;
}

function askForKey(message) {
  $("key-box").open = true;
  showError(message);
  $("key").focus();
}

function row(list, name, value) {
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

async function loadCard() {
  const card = $("card");
  try {
    model = await call("/v1/model");
  } catch (e) {
    card.replaceChildren();
    row(card, "Status", "unavailable");
    if (e.status === 401) askForKey("This service needs an API key: enter it below.");
    else showError(e.message);
    return;
  }
  $("error").hidden = true;
  card.replaceChildren();
  row(card, "Method", model.method + " on " + model.backbone);
  row(card, "Labels", model.labels.join(", ") + (model.multi_label ? " (several per text)" : ""));
  if (model.n_train != null) row(card, "Trained on", model.n_train + " examples");
  if (model.scores) {
    row(card, "Validation", Object.entries(model.scores)
      .filter(([, v]) => typeof v === "number")
      .map(([k, v]) => k + " " + v.toFixed(3)).join(", "));
  }
  if (model.created) row(card, "Created", model.created);
  row(card, "Served by", "textune " + model.textune_version + " (" + model.backend + ")");
  if (model.text_pair) {
    $("texts").placeholder = "One pair per line: first text, a Tab, then the second text";
  }
}

function render(texts, answers) {
  const results = $("results");
  results.replaceChildren();
  answers.forEach((answer, i) => {
    const chosen = new Set("labels" in answer ? answer.labels.map(String)
                                              : [String(answer.label)]);
    const article = document.createElement("article");
    article.className = "result";
    const text = document.createElement("p");
    text.className = "text";
    text.textContent = texts[i];
    const list = document.createElement("ol");
    Object.entries(answer.probabilities).sort((a, b) => b[1] - a[1]).forEach(([label, p]) => {
      const item = document.createElement("li");
      if (chosen.has(label)) item.className = "chosen";
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = label;
      const track = document.createElement("span");
      track.className = "track";
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.display = "block";
      bar.style.width = (100 * p).toFixed(1) + "%";
      track.append(bar);
      const value = document.createElement("span");
      value.className = "p";
      value.textContent = (100 * p).toFixed(1) + "%";
      item.setAttribute("aria-label", label + " " + value.textContent +
                        (chosen.has(label) ? ", predicted" : ""));
      item.append(name, track, value);
      list.append(item);
    });
    article.append(text, list);
    results.append(article);
  });
  results.hidden = false;
}

$("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("error").hidden = true;
  const lines = $("texts").value.split("\\n").map((t) => t.trim()).filter((t) => t);
  if (!lines.length) {
    showError("Enter at least one text, one per line.");
    $("texts").focus();
    return;
  }
  const body = {texts: lines};
  if (model && model.text_pair) {
    const parts = lines.map((line) => line.split("\\t"));
    body.texts = parts.map((p) => p[0]);
    body.text_pairs = parts.map((p) => p.slice(1).join(" "));
  }
  $("submit").disabled = true;
  try {
    render(lines, await call("/v1/classify", body));
  } catch (e) {
    if (e.status === 401) askForKey(e.message + " Enter the API key below.");
    else showError(e.message);
  } finally {
    $("submit").disabled = false;
  }
});

$("texts").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    $("form").requestSubmit();
  }
});

$("key").addEventListener("change", () => {
  sessionStorage.setItem(KEY, $("key").value.trim());
  loadCard();
});

loadCard();
</script>
</body>
</html>
"""
