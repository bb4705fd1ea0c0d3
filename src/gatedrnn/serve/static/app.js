// The page: POST /explain, then draw the prediction, the contribution heatmap and the gates.
// Plain DOM code, no libraries, so the page works offline and needs no build step.
"use strict";

const $ = (id) => document.getElementById(id);

async function loadModels() {
  try {
    const health = await (await fetch("/health")).json();
    const names = health.models.map((m) => `${m.name} (${m.task})`).join(", ");
    $("models").textContent = `models: ${names}`;
    $("entities-panel").hidden = !health.models.some((m) => m.route === "entities");
    if (!health.models.some((m) => m.explains)) {
      $("models").textContent += " — no model to explain: explanations need a recurrent classifier";
    }
  } catch (err) {
    $("models").textContent = "could not reach the server";
  }
}

async function analyse() {
  const text = $("review").value;
  const button = $("analyse");
  button.disabled = true;
  $("status").textContent = "analysing…";
  $("status").className = "muted";
  try {
    const response = await fetch("/explain", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text, units: Number($("units").value) || 0 }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    render(body);
    $("status").textContent = body.truncated ? "explained the first 2,000 tokens" : "";
  } catch (err) {
    $("status").textContent = `error: ${err.message}`;
    $("status").className = "error";
  } finally {
    button.disabled = false;
  }
}

function render(result) {
  $("result").hidden = false;
  const label = $("label");
  label.textContent = result.label;
  label.className = `label ${result.label}`;
  $("confidence").textContent = `${(100 * result.confidence).toFixed(1)}% confident`;
  $("confidence-bar").style.width = `${100 * result.confidence}%`;
  renderProbabilities(result.probabilities);
  $("target").textContent = result.contribution_target;
  for (const el of document.querySelectorAll(".target-name")) {
    el.textContent = result.contribution_target;
  }
  $("attention-note").textContent = result.attention
    ? "The bar under each word is its attention weight." : "";
  renderHeatmap(result);
  renderGates(result);
}

// Every class's probability, most likely first (a classifier may have many classes).
function renderProbabilities(probabilities) {
  const table = $("probabilities");
  table.replaceChildren();
  const ranked = Object.entries(probabilities).sort((a, b) => b[1] - a[1]);
  for (const [name, p] of ranked) {
    const row = table.insertRow();
    row.insertCell().textContent = name;
    row.insertCell().textContent = `${(100 * p).toFixed(1)}%`;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("div");
    fill.style.width = `${100 * p}%`;
    bar.append(fill);
    row.insertCell().append(bar);
  }
}

function renderHeatmap(result) {
  const heatmap = $("heatmap");
  heatmap.replaceChildren();
  const scale = Math.max(1e-9, ...result.contributions.map(Math.abs));
  const attentionScale = result.attention ? Math.max(1e-9, ...result.attention) : 1;
  result.tokens.forEach((token, i) => {
    const span = document.createElement("span");
    const value = result.contributions[i];
    const strength = Math.abs(value) / scale;
    span.className = "token" + (result.known[i] ? "" : " unknown");
    span.dataset.contribution = value.toFixed(4);
    span.textContent = token;
    const colour = value >= 0 ? "--pos" : "--neg";
    span.style.background = `rgba(var(${colour}), ${(0.08 + 0.72 * strength).toFixed(3)})`;
    let title = `${token}: contribution ${value.toFixed(3)}`;
    if (result.attention) {
      const a = result.attention[i];
      span.style.borderBottomColor = `rgba(43, 108, 176, ${(a / attentionScale).toFixed(3)})`;
      title += `, attention ${a.toFixed(3)}`;
    }
    span.title = title;
    heatmap.append(span, " ");
  });
  if (!result.tokens.length) heatmap.textContent = "(no tokens: the prediction comes from the model's biases)";
}

// 0..1 → a perceptual ramp (viridis-like); -1..1 → blue-white-red.
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function sequential(v) {
  const x = Math.min(1, Math.max(0, v)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const t = x - i;
  const c = RAMP[i].map((a, k) => Math.round(a + t * (RAMP[i + 1][k] - a)));
  return `rgb(${c.join(",")})`;
}
function diverging(v) {
  const x = Math.min(1, Math.max(-1, v));
  const toward = x >= 0 ? [178, 24, 43] : [33, 102, 172];
  const t = Math.abs(x);
  const c = [255, 255, 255].map((w, k) => Math.round(w + t * (toward[k] - w)));
  return `rgb(${c.join(",")})`;
}

const GATE_LABELS = { f: "forget f", i: "input i", o: "output o", r: "reset r", z: "update z" };

function renderGates(result) {
  const container = $("gates");
  container.replaceChildren();
  if (!result.tokens.length) return;
  const table = document.createElement("table");
  table.className = "grid";
  const head = table.insertRow();
  head.append(document.createElement("th"));
  result.tokens.forEach((token, i) => {
    const th = document.createElement("th");
    th.className = "tok";
    th.textContent = token;
    th.dataset.col = i;
    head.append(th);
  });
  const section = (title) => {
    const row = table.insertRow();
    row.className = "section";
    const th = document.createElement("th");
    th.colSpan = result.tokens.length + 1;
    th.textContent = title;
    row.append(th);
  };
  const addRow = (name, values, colour, format) => {
    const row = table.insertRow();
    row.className = "values";
    const th = document.createElement("th");
    th.textContent = name;
    row.append(th);
    values.forEach((v, i) => {
      const td = row.insertCell();
      td.style.background = colour(v);
      td.title = `${result.tokens[i]} · ${name}: ${format(v)}`;
      td.dataset.col = i;
    });
  };
  for (const [key, gates] of Object.entries(result.gates)) {
    const layer = key.replace(/^l(\d+)/, "layer $1").replace("_reverse", ", backward");
    section(`${result.mode} ${layer}${key.endsWith("_reverse") ? "" : ", forward"}`);
    for (const gate of result.gate_names) {
      addRow(GATE_LABELS[gate] || gate, gates[gate], sequential, (v) => v.toFixed(3));
    }
  }
  if (result.units.length) {
    section("top layer: most varying hidden units h");
    for (const unit of result.units) addRow(`h ${unit.unit}`, unit.values, diverging, (v) => v.toFixed(3));
  }
  table.addEventListener("mouseover", (event) => highlight(table, event.target.dataset.col));
  table.addEventListener("mouseleave", () => highlight(table, null));
  container.append(table);
}

function highlight(table, col) {
  for (const cell of table.querySelectorAll(".hover")) cell.classList.remove("hover");
  if (col === undefined || col === null) return;
  for (const cell of table.querySelectorAll(`[data-col="${col}"]`)) cell.classList.add("hover");
}

$("analyse").addEventListener("click", analyse);
$("review").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) analyse();
});
loadModels();

// ---- named entities: POST /entities, then mark each entity in the text -------------------

async function findEntities() {
  const text = $("entity-text").value;
  const button = $("find-entities");
  button.disabled = true;
  $("entity-status").textContent = "reading…";
  $("entity-status").className = "muted";
  try {
    const response = await fetch("/entities", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ texts: [text] }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    renderEntities(body.results[0]);
    $("entity-status").textContent = `${body.results[0].entities.length} entities (${body.model})`;
  } catch (err) {
    $("entity-status").textContent = `error: ${err.message}`;
    $("entity-status").className = "error";
  } finally {
    button.disabled = false;
  }
}

function renderEntities(result) {
  // The text as it was sent, each entity (character offsets start..end) in a <mark>.
  const marked = $("entity-text-marked");
  marked.replaceChildren();
  let position = 0;
  for (const entity of result.entities) {
    marked.append(document.createTextNode(result.text.slice(position, entity.start)));
    const mark = document.createElement("mark");
    mark.className = `entity ${entity.type}`;
    mark.textContent = result.text.slice(entity.start, entity.end);
    mark.title = `${entity.type}, ${(100 * entity.confidence).toFixed(1)}% confident`;
    const type = document.createElement("sup");
    type.textContent = entity.type;
    mark.append(type);
    marked.append(mark);
    position = entity.end;
  }
  marked.append(document.createTextNode(result.text.slice(position)));
  const table = $("entity-table");
  table.replaceChildren();
  for (const entity of result.entities) {
    const row = table.insertRow();
    for (const value of [entity.text, entity.type, `${(100 * entity.confidence).toFixed(1)}%`,
                         `${entity.start}–${entity.end}`]) {
      row.insertCell().textContent = value;
    }
  }
}

$("find-entities").addEventListener("click", findEntities);
