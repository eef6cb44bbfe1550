// The playground page: pick a protocol, send a message, watch the reply, the frames and the
// findings of streamctl's checker for what arrived. Plain DOM, no framework, no build step.

import { CLIENTS } from "./clients.js";
import { $, ROOT, WS_ROOT, getJSON, h } from "./dom.js";
import { findings, frames, reply } from "./panes.js";
import { renderCards, renderFaults, renderScenarioTable } from "./reference.js";
import { Recorder } from "./wire.js";

const page = { protocols: [], scenarios: [], faults: null, run: null };

// --- boot ------------------------------------------------------------------------------------

async function boot() {
  const [index, scenarios, faults, health] = await Promise.all([
    getJSON("/", { headers: { Accept: "application/json" } }),
    getJSON("/_streamctl/scenarios"),
    getJSON("/_streamctl/faults").catch(() => null), // fault injection may not exist on this server
    getJSON("/_streamctl/health").catch(() => null),
  ]);
  page.protocols = index.protocols;
  page.scenarios = scenarios.scenarios;
  page.faults = faults === null ? null : faultList(faults);
  renderServerInfo(health);
  renderProtocolChoices();
  renderCards(page.protocols);
  renderScenarioTable(page.scenarios);
  renderFaults(page.faults);
  describeFault();
  bindForm();
  selectProtocol(page.protocols.find((p) => CLIENTS[p.name])?.name ?? page.protocols[0].name);
  document.body.dataset.ready = "true";
}

/** Whatever shape GET /_streamctl/faults answers: a list, or {faults: [...]}; each item a name
 * or an object with a name and a description. */
function faultList(answer) {
  const items = Array.isArray(answer) ? answer : answer.faults || [];
  return items.map((f) => (typeof f === "string" ? { name: f } : { ...f, name: f.name ?? f.id }));
}

function renderServerInfo(health, up = true) {
  const host = location.host;
  const parts = [host];
  if (!up) parts.push("unreachable");
  else if (health) parts.push(`${health.protocols.length} protocols`, `${health.scenarios} scenarios`);
  $("#server-info").replaceChildren(h("span", { class: "dot" }), parts.join(" · "));
  $("#server-info").dataset.state = up ? "up" : "down";
  page.health = health ?? page.health;
}

/** Whether the server still answers (asked when a run failed: a stopped server looks like a
 * refusal to EventSource and WebSocket, which show no status). */
async function reachable() {
  try {
    renderServerInfo(await getJSON("/_streamctl/health"));
    return true;
  } catch (err) {
    if (!(err instanceof TypeError)) return true; // it answered, with something odd
    renderServerInfo(page.health, false);
    return false;
  }
}

// --- the form -------------------------------------------------------------------------------

function renderProtocolChoices() {
  const list = $("#protocol-list");
  for (const proto of page.protocols) {
    const supported = Boolean(CLIENTS[proto.name]);
    const stream = proto.endpoints.find((e) => e.stream);
    list.append(
      h(
        "label",
        { class: "choice", title: proto.title },
        h("input", { type: "radio", name: "protocol", value: proto.name, disabled: !supported }),
        h("span", { class: "choice-name" }, proto.name),
        h("span", { class: "choice-meta" }, transportLabel(proto, stream)),
      ),
    );
  }
}

function transportLabel(proto, stream) {
  if (proto.transport === "ws") return "WebSocket";
  const client = CLIENTS[proto.name]?.via === "EventSource" ? "EventSource" : "fetch";
  return `SSE · ${stream?.method ?? "GET"} · ${client}`;
}

function bindForm() {
  $("#protocol-list").addEventListener("change", (e) => selectProtocol(e.target.value));
  $("#scenario").addEventListener("change", describeScenario);
  $("#fault").addEventListener("input", describeFault);
  $("#send-form").addEventListener("submit", (e) => {
    e.preventDefault();
    send();
  });
  $("#message").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("#send-form").requestSubmit();
    }
  });
  $("#stop").addEventListener("click", () => page.run?.stop());
  $("#ws-user").addEventListener("input", () => ($("#ws-token").placeholder = tokenHint()));
  $("#ws-token").placeholder = tokenHint();
}

const tokenHint = () => `minted for ${$("#ws-user").value || "dev-user"}`;

function current() {
  return page.protocols.find((p) => p.name === $("#send-form").protocol.value);
}

function selectProtocol(name) {
  const radio = document.querySelector(`input[name=protocol][value="${CSS.escape(name)}"]`);
  if (radio) radio.checked = true;
  const proto = current();
  for (const group of document.querySelectorAll("[data-for]")) {
    group.hidden = !group.dataset.for.split(" ").includes(name);
  }
  const stream = proto.endpoints.find((e) => e.stream);
  $("#endpoint").replaceChildren(
    h("span", { class: `method m-${stream.method.toLowerCase()}` }, stream.method),
    h("code", {}, stream.path),
    h("a", { href: `#card-${name}`, class: "more" }, "code ↓"),
  );
  fillScenarios(name);
  for (const card of document.querySelectorAll(".card")) card.classList.toggle("selected", card.id === `card-${name}`);
}

function fillScenarios(protocol) {
  const select = $("#scenario");
  const previous = select.value;
  const usable = page.scenarios.filter((s) => !s.protocols || s.protocols.includes(protocol));
  select.replaceChildren(
    h("option", { value: "" }, "default reply"),
    ...usable.map((s) => h("option", { value: s.name }, s.name)),
  );
  if (usable.some((s) => s.name === previous)) select.value = previous;
  describeScenario();
}

function describeScenario() {
  const scenario = page.scenarios.find((s) => s.name === $("#scenario").value);
  $("#scenario-hint").textContent = scenario
    ? scenario.description || `${scenario.kind} scenario`
    : "No scenario: the mock answers with a reply that quotes your message.";
}

function describeFault() {
  const value = $("#fault").value.trim();
  const hint = $("#fault-hint");
  if (page.faults === null) {
    hint.textContent = value
      ? `Sent as ?fault=${value}. This server lists no faults (GET /_streamctl/faults is not there).`
      : "Optional: sent as ?fault=NAME. This server lists no faults yet.";
    return;
  }
  const fault = page.faults.find((f) => f.name === value || f.example === value);
  hint.textContent = fault?.description ?? (value ? `Sent as ?fault=${value}.` : "Optional: pick a fault to inject.");
}

function formValues() {
  const form = $("#send-form");
  return {
    message: $("#message").value,
    scenario: $("#scenario").value,
    fault: $("#fault").value.trim(),
    secretKey: $("#secret-key").value,
    session: $("#session").value.trim(),
    user: $("#ws-user").value.trim(),
    token: $("#ws-token").value.trim(),
    chatId: form.protocol.value === "ws-events" ? $("#ws-chat").value.trim() : $("#chat-id").value.trim(),
    ndjson: $("#ndjson").checked,
  };
}

// --- a run ----------------------------------------------------------------------------------

class Run {
  constructor(proto, form) {
    this.proto = proto;
    this.form = form;
    this.client = CLIENTS[proto.name];
    this.endpoint = proto.endpoints.find((e) => e.stream).path;
    this.controller = new AbortController();
    this.signal = this.controller.signal;
    this.stoppers = [];
    this.stopped = false;
    this.terminated = false;
    this.failed = false;
    this.tokens = 0;
    this.ttft = null;
    this.reply = "";
    const hooks = { onRecord: (i, r) => frames.add(i, r), onHead: (kind, head) => frames.head(kind, head, this.rec.now()) };
    this.rec = new Recorder(proto.name, this.client.transport, hooks, {
      url: ROOT,
      client: this.client.via,
      scenario: form.scenario || null,
      fault: form.fault || null,
    });
  }

  target(path, params = {}) {
    const query = new URLSearchParams(params);
    if (this.form.scenario) query.set("scenario", this.form.scenario);
    if (this.form.fault) query.set("fault", this.form.fault);
    const qs = query.toString();
    return qs ? `${path}?${qs}` : path;
  }

  url(target) {
    return `${ROOT}${target}`;
  }

  wsUrl(target) {
    return `${WS_ROOT}${target}`;
  }

  opened(what) {
    reply.status("streaming", `streaming (${what})`);
    if (this.rec.response === null) frames.head("open", `${this.client.via} open: the browser shows no response head`, this.rec.now());
  }

  text(piece) {
    if (!piece) return;
    if (this.ttft === null) this.ttft = this.rec.now();
    this.tokens += 1;
    this.reply += piece;
    reply.append(piece);
    frames.annotate(this.rec.records.length - 1, JSON.stringify(piece), "text");
    reply.stats(this);
  }

  note(text) {
    reply.note(text);
    frames.annotate(this.rec.records.length - 1, text, "info");
  }

  error(message) {
    this.failed = true;
    reply.error(message);
  }

  terminate() {
    this.terminated = true;
  }

  /** How to stop the exchange; called at once if Stop was already pressed (a run can spend a
   * moment fetching a token before it connects). */
  onStop(fn) {
    if (this.stopped) fn();
    else this.stoppers.push(fn);
  }

  stop() {
    if (this.stopped || this.rec.ended) return;
    this.stopped = true;
    this.controller.abort();
    for (const fn of this.stoppers) fn();
  }

  finish(outcome, detail) {
    this.rec.end(outcome, detail);
    this.outcome = outcome;
    this.detail = detail;
  }
}

async function send() {
  if ($("#workspace").dataset.state === "running" || $("#workspace").dataset.state === "checking") return;
  const proto = current();
  const form = formValues();
  const run = new Run(proto, form);
  page.run = run;
  setRunState("running");
  reply.start(form.message);
  frames.clear();
  findings.waiting(proto.name);
  try {
    await run.client.run(run);
  } catch (err) {
    run.error(`The page's client failed: ${err.message}`);
    run.finish("error", String(err.message));
  }
  if (run.outcome === "error" && !(await reachable())) {
    reply.unreachable(ROOT);
    reply.finish(run);
    findings.unreachable();
    setRunState("done");
    return;
  }
  reply.finish(run);
  setRunState("checking");
  await findings.check(run);
  setRunState("done");
}

function setRunState(state) {
  $("#workspace").dataset.state = state;
  $("#send").disabled = state === "running" || state === "checking";
  $("#stop").disabled = state !== "running";
}

boot().catch((err) => {
  document.body.dataset.ready = "error";
  $("#boot-error").hidden = false;
  $("#boot-error").textContent = `The page could not load the server's index: ${err.message}`;
});
