// The wire as the page sees it: small decoders for showing a reply, and the transcript a run
// records so the server's checker can judge it (the format of fixtures/README.md).
//
// The decoders are for display only. Conformance is decided by streamctl's checker, on the
// server (POST /_streamctl/check): the page never carries its own copy of the rules.

const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Incremental Server-Sent Events decoder (WHATWG HTML §9.2.6, the parts a reader needs). */
export class SSEParser {
  constructor() {
    this.decoder = new TextDecoder("utf-8");
    this.buffer = "";
    this.skipLF = false; // the previous chunk ended in CR: a leading LF belongs to it
    this.reset();
  }

  reset() {
    this.type = "";
    this.data = [];
  }

  /** Feed a chunk of bytes; returns the events it completed: [{type, data}]. */
  feed(bytes) {
    this.buffer += this.decoder.decode(bytes, { stream: true });
    const events = [];
    for (;;) {
      if (this.skipLF && this.buffer) {
        if (this.buffer.startsWith("\n")) this.buffer = this.buffer.slice(1);
        this.skipLF = false;
      }
      const end = /\r\n|\r|\n/.exec(this.buffer);
      if (end === null) return events;
      const line = this.buffer.slice(0, end.index);
      this.buffer = this.buffer.slice(end.index + end[0].length);
      this.skipLF = end[0] === "\r" && this.buffer === "";
      const event = this.line(line);
      if (event) events.push(event);
    }
  }

  line(line) {
    if (line === "") {
      const event = this.data.length ? { type: this.type || "message", data: this.data.join("\n") } : null;
      this.reset();
      return event;
    }
    if (line.startsWith(":")) return null; // a comment (heartbeat)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.type = value;
    return null;
  }
}

/** Incremental JSON Lines decoder: one event per non-blank line, [{type: "line", data}]. */
export class NDJSONParser {
  constructor() {
    this.decoder = new TextDecoder("utf-8");
    this.buffer = "";
  }

  feed(bytes) {
    this.buffer += this.decoder.decode(bytes, { stream: true });
    const lines = this.buffer.split("\n");
    this.buffer = lines.pop();
    return lines.filter((l) => l.trim()).map((data) => ({ type: "line", data }));
  }
}

/** An EventSource event as SSE bytes again (EventSource keeps no framing, so this is all the
 * page can give the checker). */
export function encodeEvent(type, data) {
  const head = type === "message" ? "" : `event: ${type}\n`;
  const body = data.split("\n").map((line) => `data: ${line}\n`).join("");
  return new TextEncoder().encode(`${head}${body}\n`);
}

export function base64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** A frame's payload as a transcript field: {text} for a WebSocket text message, {data} for
 * bytes that are UTF-8 on their own, {b64} otherwise. */
function payloadField(payload) {
  if (typeof payload === "string") return { text: payload };
  try {
    return { data: utf8Strict.decode(payload) };
  } catch {
    return { b64: base64(payload) };
  }
}

const round = (ms) => Math.round(ms * 1000) / 1000;

/** Records one exchange as a streamctl transcript while it happens.
 * `onRecord(index, record)` sees every record as it is added (the frames table). */
export class Recorder {
  constructor(protocol, transport, { onRecord, onHead }, meta = {}) {
    this.protocol = protocol;
    this.transport = transport;
    this.onRecord = onRecord;
    this.onHead = onHead;
    this.meta = { recorder: "streamctl playground (browser)", ...meta };
    this._request = null;
    this._response = null;
    this.records = [];
    this.bytes = 0;
    this.start();
  }

  /** {method, target, headers: [[name, value]], body: string | null} */
  get request() {
    return this._request;
  }

  set request(value) {
    this._request = value;
    this.onHead("request", value);
  }

  /** {status, headers}, or null while (or when) no response head is visible. */
  get response() {
    return this._response;
  }

  set response(value) {
    this._response = value;
    this.onHead("response", value);
  }

  /** Time offsets count from here: call it right before the request goes out. */
  start() {
    this.t0 = performance.now();
  }

  now() {
    return round(performance.now() - this.t0);
  }

  add(record) {
    this.records.push(record);
    this.onRecord(this.records.length - 1, record);
  }

  frame(from, payload) {
    this.bytes += typeof payload === "string" ? payload.length : payload.length;
    this.add({ t: this.now(), from, ...payloadField(payload) });
  }

  close(from, code, reason = "") {
    this.add({ t: this.now(), from, close: { code, reason } });
  }

  disconnect(reason) {
    this.add({ t: this.now(), disconnect: reason });
  }

  end(outcome, detail = "") {
    if (this.ended) return;
    this.ended = true;
    this.add({ t: this.now(), end: outcome, detail });
  }

  /** The transcript as JSON Lines text. */
  jsonl() {
    const req = this.request || { method: "GET", target: "/", headers: [], body: null };
    const header = {
      format: "streamctl-transcript",
      version: 1,
      protocol: this.protocol,
      transport: this.transport,
      request: {
        method: req.method,
        target: req.target,
        headers: req.headers || [],
        body: req.body == null ? null : { data: req.body },
      },
      response: this.response,
      meta: this.meta,
    };
    return [header, ...this.records].map((line) => JSON.stringify(line)).join("\n") + "\n";
  }
}
