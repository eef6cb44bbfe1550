// The three panes of a run: the reply as it streams, the frames with their timing, and the
// findings of streamctl's checker (POST /_streamctl/check) for what was received.

import { $, ROOT, h } from "./dom.js";

const MAX_ROWS = 3000; // frames shown in the table (the transcript keeps them all)

// --- the reply pane -------------------------------------------------------------------------

export const reply = {
  turns: 0,
  start(message) {
    if (this.turns > 0) this.keepTurn();
    this.turns += 1;
    $("#reply-user").textContent = message;
    $("#reply-user").hidden = !message;
    $("#reply-text").textContent = "";
    $("#reply-notes").replaceChildren();
    $("#reply-error").replaceChildren();
    $("#reply-error").hidden = true;
    $("#reply-stats").textContent = "";
    $("#reply-bubble").classList.add("streaming");
    this.status("connecting", "connecting…");
  },
  /** The turn shown so far stays in the conversation, above the next one. */
  keepTurn() {
    const copies = ["#reply-user", "#reply-bubble"]
      .map((selector) => $(selector))
      .filter((node) => !node.hidden)
      .map((node) => {
        const copy = node.cloneNode(true);
        for (const el of [copy, ...copy.querySelectorAll("[id]")]) el.removeAttribute("id");
        copy.classList.remove("streaming");
        copy.classList.add("past");
        return copy;
      });
    $("#reply-user").before(...copies);
  },
  status(state, label) {
    const pill = $("#reply-status");
    pill.dataset.state = state;
    pill.textContent = label;
  },
  append(text) {
    $("#reply-text").append(text);
    const body = $("#reply-body");
    body.scrollTop = body.scrollHeight;
  },
  note(text) {
    $("#reply-notes").append(h("span", { class: "chip" }, text));
  },
  /** The run failed because nothing answers at ``root``: say that instead of guessing. */
  unreachable(root) {
    $("#reply-error").replaceChildren();
    this.error(`The server at ${root} is unreachable: is streamctl serve still running?`);
  },
  error(message) {
    const box = $("#reply-error");
    box.hidden = false;
    box.append(h("div", {}, message));
  },
  stats(run) {
    const total = run.rec.ended ? run.rec.records.at(-1).t : run.rec.now();
    const parts = [
      `ttft ${run.ttft === null ? "–" : `${Math.round(run.ttft)} ms`}`,
      `${run.tokens} token${run.tokens === 1 ? "" : "s"}`,
      `total ${Math.round(total)} ms`,
      `${run.rec.records.length} records`,
    ];
    $("#reply-stats").textContent = parts.join(" · ");
  },
  finish(run) {
    $("#reply-bubble").classList.remove("streaming");
    this.stats(run);
    const labels = {
      complete: run.failed ? ["failed", "ended with an error"] : ["complete", "complete"],
      interrupted: ["stopped", "stopped"],
      error: ["failed", "failed"],
    };
    const [state, label] = labels[run.outcome] ?? ["failed", run.outcome];
    this.status(state, label);
    $("#reply-pane").dataset.outcome = state;
  },
};

// --- the frames pane ------------------------------------------------------------------------

export const frames = {
  pending: [],
  count: 0,
  carried: new Map(),
  clear() {
    this.pending = [];
    this.count = 0;
    this.carried = new Map();
    $("#frames-body").replaceChildren();
    $("#frames-count").textContent = "";
  },
  add(index, record) {
    this.count += 1;
    if (this.count <= MAX_ROWS) this.queue(() => frameRow(index, record));
  },
  /** A row for the request or response head: not a transcript record, so no number. */
  head(kind, head, t) {
    if (head === null) return;
    this.queue(() => headRow(kind, head, kind === "request" ? 0 : t));
  },
  /** What the page took from a frame (text, a tool call), shown at the start of its row. */
  annotate(index, text, kind) {
    if (index < 0) return;
    const chip = h("span", { class: `carried ${kind}` }, text);
    const chips = this.carried.get(index) ?? [];
    chips.push(chip);
    this.carried.set(index, chips);
    const clip = document.querySelector(`#frame-${index} .clip`); // null until the row is drawn
    if (!clip) return;
    const last = clip.querySelectorAll(".carried");
    if (last.length) last[last.length - 1].after(chip);
    else clip.prepend(chip);
  },
  queue(make) {
    this.pending.push(make);
    if (this.pending.length === 1) requestAnimationFrame(() => this.flush());
  },
  flush() {
    const wrap = $("#frames-scroll");
    const atEnd = wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < 40;
    $("#frames-body").append(...this.pending.map((make) => make()));
    this.pending = [];
    const more = this.count > MAX_ROWS ? ` (first ${MAX_ROWS} shown)` : "";
    $("#frames-count").textContent = this.count ? `${this.count}${more}` : "";
    if (atEnd) wrap.scrollTop = wrap.scrollHeight;
  },
  highlight(index) {
    const row = document.getElementById(`frame-${index}`);
    if (!row) return;
    for (const old of document.querySelectorAll("#frames-body tr.hit")) old.classList.remove("hit");
    row.classList.add("hit", "open");
    row.scrollIntoView({ block: "center", behavior: "smooth" });
  },
};

/** How an exchange ended, in words: a refusal is not a complete stream. */
function endLabel(record) {
  if (record.detail?.startsWith("refused")) return record.detail;
  return `${record.end}${record.detail ? ` — ${record.detail}` : ""}`;
}

function frameRow(index, record) {
  const dir = record.from === "client" ? "↑" : record.from === "server" ? "↓" : "•";
  const kind = record.from ? record.from : "";
  let payload;
  let size = "";
  if ("text" in record) {
    payload = visible(record.text);
    size = new TextEncoder().encode(record.text).length;
  } else if ("data" in record) {
    payload = visible(record.data);
    size = new TextEncoder().encode(record.data).length;
  } else if ("b64" in record) {
    payload = [h("span", { class: "tag" }, "base64"), record.b64];
    size = atob(record.b64).length;
  } else if ("close" in record) {
    payload = h("span", { class: "meta" }, `close ${record.close.code ?? "(no code)"} ${record.close.reason}`);
  } else if ("disconnect" in record) {
    payload = h("span", { class: "meta bad" }, `disconnect: ${record.disconnect}`);
  } else {
    payload = h("span", { class: "meta" }, `end: ${endLabel(record)}`);
  }
  const row = h(
    "tr",
    { id: `frame-${index}`, class: kind ? `from-${kind}` : "local", title: "click to wrap or unwrap" },
    h("td", { class: "num" }, index),
    h("td", { class: "num" }, record.t.toFixed(1)),
    h("td", { class: `dir ${kind}` }, dir),
    h("td", { class: "num" }, size),
    h("td", { class: "payload" }, h("div", { class: "clip" }, frames.carried.get(index) ?? [], payload)),
  );
  row.addEventListener("click", () => row.classList.toggle("open"));
  return row;
}

const EOL_MARK = { "\r\n": "\\r\\n", "\r": "\\r", "\n": "\\n" };

function headRow(kind, head, t) {
  let text = head;
  let title = "";
  if (kind === "request") {
    const size = head.body == null ? "" : ` · body ${new TextEncoder().encode(head.body).length} B`;
    text = `${head.method} ${head.target}${size}`;
  } else if (kind === "response") {
    const type = head.headers.find(([name]) => name === "content-type");
    text = head.status === 101 ? "101 Switching Protocols" : `HTTP ${head.status}${type ? ` · ${type[1]}` : ""}`;
  }
  if (typeof head === "object") title = head.headers.map(([name, value]) => `${name}: ${value}`).join("\n");
  const side = kind === "request" ? "client" : "server";
  return h(
    "tr",
    { class: `head from-${side}`, title },
    h("td", { class: "num" }, ""),
    h("td", { class: "num" }, t.toFixed(1)),
    h("td", { class: `dir ${side}` }, kind === "request" ? "↑" : "↓"),
    h("td", { class: "num" }, ""),
    h("td", { class: "payload" }, h("span", { class: "head-label" }, kind), text),
  );
}

/** Text with its line endings made visible (framing is what the frames pane is for); a new
 * row starts after each blank line, where an SSE event ends. */
function visible(text) {
  const parts = text.split(/(\r\n|\r|\n)/).filter((p) => p !== "");
  const out = [];
  let blank = true; // at the start of a line that has no text yet
  parts.forEach((part, i) => {
    if (!(part in EOL_MARK)) {
      out.push(part);
      blank = false;
      return;
    }
    out.push(h("span", { class: "eol" }, EOL_MARK[part]));
    if (blank && i < parts.length - 1) out.push(h("br"));
    blank = true;
  });
  return out;
}

/** After Stop, the finding that the stream never reached its end is about the user's Stop. */
function stoppedByUser(run, result) {
  if (run.outcome !== "interrupted") return result;
  const cut = result.findings.filter((f) => f.message.endsWith("the recording ended: interrupted"));
  if (!cut.length) return result;
  const findings = result.findings.filter((f) => !cut.includes(f));
  const failed = findings.some((f) => f.level === "MUST");
  return { ...result, findings, failed, stopped: cut.map((f) => f.rule) };
}

// --- the findings pane ----------------------------------------------------------------------

export const findings = {
  waiting(protocol) {
    $("#findings").replaceChildren(h("p", { class: "placeholder" }, `Waiting for the ${protocol} reply to end…`));
    $("#findings").dataset.state = "waiting";
    $("#findings-count").textContent = "";
  },
  async check(run) {
    const transcript = run.rec.jsonl();
    let result;
    try {
      const response = await fetch(`${ROOT}/_streamctl/check`, {
        method: "POST",
        headers: { "Content-Type": "application/x-ndjson" },
        body: transcript,
      });
      result = await response.json();
      if (!response.ok) throw new Error(result.detail || `HTTP ${response.status}`);
    } catch (err) {
      $("#findings").replaceChildren(h("div", { class: "banner bad" }, `The checker could not run: ${err.message}`));
      $("#findings").dataset.state = "error";
      return;
    }
    this.render(run, stoppedByUser(run, result), transcript);
  },
  /** The server could not be reached: there is nothing to check. */
  unreachable() {
    $("#findings-count").textContent = "";
    $("#findings").replaceChildren(h("div", { class: "banner bad", id: "verdict" }, "Not checked: the server is unreachable."));
    $("#findings").dataset.state = "error";
  },
  render(run, result, transcript) {
    const list = result.findings;
    const must = list.filter((f) => f.level === "MUST").length;
    const should = list.length - must;
    $("#findings-count").textContent = `${list.length}`;
    const summary = list.length
      ? h(
          "div",
          { class: `verdict ${result.failed ? "bad" : "warn"}`, id: "verdict" },
          h("strong", {}, `${list.length} finding${list.length === 1 ? "" : "s"}`),
          h("span", {}, result.failed ? "FAIL" : "pass with warnings"),
          h("small", {}, `${must} MUST · ${should} SHOULD`),
        )
      : h(
          "div",
          { class: "verdict ok", id: "verdict" },
          h("strong", {}, "0 findings"),
          h("span", {}, `conforms to ${run.proto.name}`),
        );
    const status = run.rec.response?.status;
    const refused = status !== undefined && status !== 200 && status !== 101;
    const scope = h(
      "p",
      { class: "checked" },
      refused
        ? `The server refused the request (HTTP ${status}): there is no stream to check. `
        : `Checked ${run.rec.records.length} records against every ${run.proto.name} rule: `,
      h("code", {}, `streamctl spec ${run.proto.name}`),
      " lists them.",
    );
    const items = list.map((f) => findingItem(f));
    const notes = [];
    if (result.stopped?.length) {
      notes.push(
        h(
          "p",
          { class: "note", id: "stopped-note" },
          `You stopped this reply before its end, so it never ended the way ${run.proto.name} ends a reply: `,
          h("code", {}, result.stopped.join(", ")),
          " is not held against the server.",
        ),
      );
    }
    if (run.client.via === "EventSource") {
      notes.push(
        h(
          "p",
          { class: "note" },
          "EventSource hands the page parsed events, not bytes: each event was re-encoded as ",
          h("code", {}, "data: …"),
          " lines before checking, so framing (line endings, comments, chunking, anything sent after done) is not checked here. ",
          h("code", {}, `streamctl check ${run.proto.name} ${ROOT}`),
          " checks the raw bytes.",
        ),
      );
    }
    if (run.client.transport === "ws") {
      notes.push(h("p", { class: "note" }, "A browser shows no WebSocket handshake headers: the transcript records status 101 without them."));
    }
    if (this.download) URL.revokeObjectURL(this.download);
    this.download = URL.createObjectURL(new Blob([transcript], { type: "application/x-ndjson" }));
    const download = h(
      "a",
      { class: "download", href: this.download, download: `${run.proto.name}.jsonl` },
      "Download transcript (.jsonl)",
    );
    $("#findings").replaceChildren(summary, scope, h("ol", { class: "finding-list" }, items), ...notes, download);
    $("#findings").dataset.state = "done";
    $("#findings").dataset.failed = String(result.failed);
  },
};

function findingItem(f) {
  return h(
    "li",
    { class: `finding ${f.level.toLowerCase()}` },
    h(
      "div",
      { class: "finding-head" },
      h("span", { class: `level ${f.level.toLowerCase()}` }, f.level),
      h("code", { class: "rule" }, f.rule),
      f.frame === null
        ? null
        : h("button", { type: "button", class: "frame-link", onclick: () => frames.highlight(f.frame) }, `frame ${f.frame}`),
    ),
    h("div", { class: "finding-msg" }, f.message),
    f.excerpt ? h("pre", { class: "excerpt" }, f.excerpt) : null,
    h("div", { class: "source" }, f.source),
  );
}
