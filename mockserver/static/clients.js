// One browser client per protocol, written the way the seed documents' own clients are:
// streaming fetch for the POST protocols, EventSource for sse-delta-done, WebSocket for the
// WebSocket protocols. Each one drives a run (`ctx`, made by app.js):
//
//   ctx.form            what the user entered: message, secretKey, session, user, token, chatId, ndjson
//   ctx.endpoint        the protocol's streaming path from the server's index ("/reply", ...)
//   ctx.url(target) / ctx.wsUrl(target)   absolute URLs; ctx.target(path, params) adds the
//                       scenario/fault query to a path
//   ctx.rec             the Recorder (wire.js): every frame goes into the transcript
//   ctx.text(s)         assistant text to show;  ctx.note(s) an event worth showing (tool, chat)
//   ctx.error(s)        a failure to show;  ctx.terminate() the protocol's terminator arrived
//   ctx.opened(s)       the response head / connection is there
//   ctx.signal, ctx.onStop(fn), ctx.stopped   the Stop button
//   ctx.finish(outcome, detail)   ends the recording (complete, interrupted, error)
//
// A client's run(ctx) resolves once the exchange is over.

import { NDJSONParser, SSEParser, encodeEvent } from "./wire.js";

const LINGER_MS = 1000; // after the terminator, how long to wait for the server to close
const REDACTED = "<redacted>";

const parseJSON = (text) => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** POST (or GET) and read the body as it streams, chunk by chunk. */
async function streamFetch(ctx, { method, path, params = {}, headers, recorded, body }, parser, onEvent) {
  const target = ctx.target(path, params);
  ctx.rec.request = { method, target, headers: recorded, body };
  ctx.rec.start();
  let response;
  try {
    response = await fetch(ctx.url(target), { method, headers, body, signal: ctx.signal, cache: "no-store" });
  } catch (err) {
    if (ctx.stopped) return ctx.finish("interrupted", "stopped before the response arrived");
    ctx.error(`No response: ${err.message}`);
    return ctx.finish("error", String(err.message));
  }
  ctx.rec.response = { status: response.status, headers: [...response.headers] };
  ctx.opened(`HTTP ${response.status}`);
  if (!response.ok) return refused(ctx, response);
  const reader = response.body.getReader();
  for (;;) {
    let step;
    try {
      step = await readWithLinger(reader, ctx.terminated ? LINGER_MS : null);
    } catch (err) {
      if (ctx.stopped) return ctx.finish("interrupted", "stopped by the user");
      ctx.rec.disconnect(String(err.message || err));
      ctx.error(`The connection broke before the reply ended: ${err.message || err}`);
      return ctx.finish("error", "connection lost");
    }
    if (step === null) {
      reader.cancel().catch(() => {});
      return ctx.finish("complete", "the protocol's terminator arrived; the server kept the stream open");
    }
    if (step.done) break;
    ctx.rec.frame("server", step.value);
    for (const event of parser.feed(step.value)) onEvent(event);
  }
  if (ctx.terminated) return ctx.finish("complete", "the protocol's terminator arrived");
  ctx.error("The server closed the stream before the reply ended.");
  return ctx.finish("error", "the stream ended before the protocol's terminator");
}

function readWithLinger(reader, lingerMs) {
  if (lingerMs === null) return reader.read();
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve(null), lingerMs)));
  return Promise.race([reader.read(), timeout]).finally(() => clearTimeout(timer));
}

// Hypercorn sends no reason phrase, so a browser's statusText is empty: name the usual ones.
const REASONS = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  500: "Internal Server Error",
};

async function refused(ctx, response) {
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length) ctx.rec.frame("server", bytes);
  const text = new TextDecoder().decode(bytes).trim();
  const body = text ? `: ${text.length > 400 ? `${text.slice(0, 399)}…` : text}` : " (empty body)";
  const reason = response.statusText || REASONS[response.status] || "";
  ctx.error(`HTTP ${response.status} ${reason}`.trim() + body);
  return ctx.finish("complete", `refused with HTTP ${response.status}`);
}

/** Open a WebSocket and hand its JSON messages to `onMessage(obj, send, close)`. */
function streamWebSocket(ctx, path, params, onOpen, onMessage) {
  return new Promise((resolve) => {
    const target = ctx.target(path, params);
    ctx.rec.request = { method: "GET", target, headers: [], body: null };
    ctx.rec.start();
    const ws = new WebSocket(ctx.wsUrl(target));
    ws.binaryType = "arraybuffer";
    let opened = false;
    let closing = false;
    const send = (obj, recorded = obj) => {
      ctx.rec.frame("client", JSON.stringify(recorded));
      ws.send(JSON.stringify(obj));
    };
    const close = (code = 1000, reason = "") => {
      if (closing || ws.readyState !== WebSocket.OPEN) return;
      closing = true;
      ctx.rec.close("client", code, reason);
      ws.close(code, reason);
    };
    ctx.onStop(() => (opened ? close(1000, "stopped") : ws.close()));
    ws.onopen = () => {
      opened = true;
      // A browser shows no handshake headers; the status is what the open event proves.
      ctx.rec.response = { status: 101, headers: [] };
      ctx.opened("connected");
      onOpen(send, close);
    };
    ws.onmessage = (event) => {
      const text = typeof event.data === "string" ? event.data : null;
      ctx.rec.frame("server", text ?? new Uint8Array(event.data));
      const obj = text === null ? undefined : parseJSON(text);
      if (obj === undefined || obj === null || typeof obj !== "object") {
        ctx.note("a message that is not a JSON object (see the findings)");
        return;
      }
      onMessage(obj, send, close);
    };
    ws.onclose = (event) => {
      resolve(closed(ctx, event, opened, closing));
    };
  });
}

function closed(ctx, event, opened, closing) {
  if (!opened) {
    if (ctx.stopped) return ctx.finish("interrupted", "stopped before the connection opened");
    ctx.error(
      "The WebSocket connection was refused (a browser does not show why: an unknown scenario " +
        "or fault is answered 404 — try the curl or streamctl command, or the admin journal).",
    );
    return ctx.finish("error", "the WebSocket handshake failed");
  }
  const reason = event.reason ? `, ${event.reason}` : "";
  if (event.wasClean) ctx.rec.close("server", event.code, event.reason);
  else ctx.rec.disconnect(`closed without a close frame (code ${event.code})`);
  if (ctx.stopped) return ctx.finish("interrupted", "stopped by the user");
  if (ctx.terminated) return ctx.finish("complete", "the protocol's terminator arrived");
  if (!closing) ctx.error(`The server closed the connection (code ${event.code}${reason}) before the reply ended.`);
  return ctx.finish("error", `connection closed with code ${event.code}${reason}`);
}

// --- goose: POST /reply, JSON events over SSE (seed 000) ------------------------------------

function gooseEvent(ctx, event) {
  const obj = parseJSON(event.data);
  if (!obj || typeof obj !== "object") return;
  if (obj.type === "Message" && obj.message) {
    for (const item of obj.message.content || []) {
      if (item.type === "text" && obj.message.role === "assistant") ctx.text(item.text);
      if (item.type === "toolRequest") ctx.note(`tool call: ${item.toolCall?.value?.name ?? item.id}`);
      if (item.type === "toolResponse") ctx.note(`tool result for ${item.id}`);
    }
  } else if (obj.type === "Error") {
    ctx.error(`Error: ${obj.error}`);
    ctx.terminate();
  } else if (obj.type === "Finish") {
    ctx.terminate();
  }
}

const goose = {
  transport: "sse",
  via: "fetch",
  run(ctx) {
    const { message, secretKey, session } = ctx.form;
    const body = JSON.stringify({
      messages: [
        {
          id: `msg-${Date.now()}`,
          role: "user",
          created: Math.floor(Date.now() / 1000),
          content: [{ type: "text", text: message }],
        },
      ],
      session_id: session || "playground",
      session_working_dir: "/tmp",
    });
    const common = [
      ["content-type", "application/json"],
      ["accept", "text/event-stream"],
    ];
    return streamFetch(
      ctx,
      {
        method: "POST",
        path: ctx.endpoint,
        headers: [...common, ["x-secret-key", secretKey]],
        recorded: [...common, ["x-secret-key", REDACTED]],
        body,
      },
      new SSEParser(),
      (event) => gooseEvent(ctx, event),
    );
  },
};

// --- message-stream: POST …/messages/stream, SSE or NDJSON (seed 004) ----------------------

function messageStreamEvent(ctx, event) {
  const obj = parseJSON(event.data);
  if (!obj || typeof obj !== "object") return;
  if (obj.type === "message_start") ctx.note(`message ${obj.message?.id ?? "?"} started`);
  else if (obj.type === "message_delta") ctx.text(obj.delta ?? "");
  else if (obj.type === "message_end") ctx.terminate();
  else if (obj.type === "error") {
    ctx.error(`Error: ${obj.error?.message ?? JSON.stringify(obj.error)}`);
    ctx.terminate();
  }
}

const messageStream = {
  transport: "sse",
  via: "fetch",
  run(ctx) {
    const { message, chatId, ndjson } = ctx.form;
    const headers = [
      ["content-type", "application/json"],
      ["accept", ndjson ? "application/x-ndjson" : "text/event-stream"],
    ];
    return streamFetch(
      ctx,
      {
        method: "POST",
        path: ctx.endpoint.replace("{chat_id}", encodeURIComponent(chatId || "1")),
        headers,
        recorded: headers,
        body: JSON.stringify({ content: message }),
      },
      ndjson ? new NDJSONParser() : new SSEParser(),
      (event) => messageStreamEvent(ctx, event),
    );
  },
};

// --- sse-delta-done: GET with EventSource, exactly as seed 002's frontend ------------------

const sseDeltaDone = {
  transport: "sse",
  via: "EventSource",
  run(ctx) {
    return new Promise((resolve) => {
      const target = ctx.target(ctx.endpoint, { message: ctx.form.message });
      // EventSource shows neither the request nor the response head.
      ctx.rec.request = { method: "GET", target, headers: [["accept", "text/event-stream"]], body: null };
      ctx.rec.start();
      const eventSource = new EventSource(ctx.url(target));
      let opened = false;
      const done = (outcome, detail) => {
        eventSource.close();
        resolve(ctx.finish(outcome, detail));
      };
      ctx.onStop(() => done("interrupted", "stopped by the user"));
      eventSource.onopen = () => {
        opened = true;
        ctx.opened("open");
      };
      eventSource.onmessage = (event) => {
        ctx.rec.frame("server", encodeEvent("message", event.data));
        const data = parseJSON(event.data);
        if (!data || typeof data !== "object") return ctx.note("an event whose data is not JSON");
        if (data.done) {
          ctx.terminate();
          done("complete", "the protocol's terminator arrived");
        } else if (data.delta) {
          ctx.text(data.delta);
        } else if (data.error) {
          ctx.error(`Error: ${data.error}`);
        }
      };
      eventSource.addEventListener("tool", (event) => {
        ctx.rec.frame("server", encodeEvent("tool", event.data));
        ctx.note(`tool: ${parseJSON(event.data)?.tool_name ?? event.data}`);
      });
      eventSource.onerror = () => {
        if (ctx.terminated || ctx.stopped) return;
        if (!opened) {
          ctx.error(
            "EventSource could not open the stream (it does not show the HTTP status: a " +
              "refusal such as 404 for an unknown scenario or fault looks the same).",
          );
          return done("error", "EventSource failed to connect");
        }
        ctx.rec.disconnect("the stream ended before done (EventSource would reconnect)");
        ctx.error("The server ended the stream before {\"done\": true}; EventSource would reconnect, so the page closed it.");
        done("error", "the stream ended before the protocol's terminator");
      };
    });
  },
};

// --- ws-events: JWT, join_chat / create_chat, then message (seed 001) ----------------------

function wsEventsMessage(ctx, obj, send, close, state) {
  const data = obj.data || {};
  switch (obj.type) {
    case "chat_joined":
    case "chat_created":
      ctx.note(`${obj.type === "chat_joined" ? "joined" : "created"} chat ${data.chatId}`);
      if (!state.sent) {
        state.sent = true;
        send({ type: "message", data: { message: ctx.form.message } });
      }
      break;
    case "authenticated":
      ctx.note(`authenticated as ${data.userId}`);
      break;
    case "assistant_message_token":
      ctx.text(data.token ?? "");
      break;
    case "assistant_message_complete":
      ctx.terminate();
      close(1000);
      break;
    case "error":
      ctx.error(`Error: ${data.message}`);
      ctx.terminate();
      close(1000);
      break;
    default:
      break;
  }
}

const wsEvents = {
  transport: "ws",
  via: "WebSocket",
  async run(ctx) {
    let token = ctx.form.token;
    if (!token) {
      const user = encodeURIComponent(ctx.form.user || "dev-user");
      const answer = await fetch(ctx.url(`/_streamctl/token?user=${user}`)).then((r) => r.json());
      token = answer.token;
    }
    const chatId = ctx.form.chatId;
    const state = { sent: false };
    const opening = chatId
      ? { type: "join_chat", data: { token, chatId } }
      : { type: "create_chat", data: { token } };
    const recorded = { ...opening, data: { ...opening.data, token: REDACTED } };
    return streamWebSocket(
      ctx,
      ctx.endpoint,
      {},
      (send) => send(opening, recorded),
      (obj, send, close) => wsEventsMessage(ctx, obj, send, close, state),
    );
  },
};

// --- chunk-complete: {message, timestamp} in, chunk… complete out (seed 003) --------------

const chunkComplete = {
  transport: "ws",
  via: "WebSocket",
  run(ctx) {
    return streamWebSocket(
      ctx,
      ctx.endpoint,
      {},
      (send) => send({ message: ctx.form.message, timestamp: new Date().toISOString() }),
      (obj, send, close) => {
        if (obj.type === "chunk") ctx.text(obj.text ?? "");
        else if (obj.type === "complete") {
          ctx.terminate();
          close(1000);
        } else if (obj.type === "error") {
          ctx.error(`Error: ${obj.message}`);
          ctx.terminate();
          close(1000);
        }
      },
    );
  },
};

// --- goose-web: {type: message, …} in, response… complete out (seed 000, goose web) ------

const gooseWeb = {
  transport: "ws",
  via: "WebSocket",
  run(ctx) {
    const session = ctx.form.session || "test-session";
    return streamWebSocket(
      ctx,
      ctx.endpoint,
      {},
      (send) =>
        send({ type: "message", content: ctx.form.message, session_id: session, timestamp: Date.now() }),
      (obj, send, close) => {
        if (obj.type === "response") ctx.text(obj.content ?? "");
        else if (obj.type === "tool_request") ctx.note(`tool call: ${obj.tool_name}`);
        else if (obj.type === "tool_response") ctx.note(`tool result for ${obj.id}`);
        else if (obj.type === "thinking" || obj.type === "context_exceeded") ctx.note(`${obj.type}: ${obj.message}`);
        else if (obj.type === "error") ctx.error(obj.message);
        else if (obj.type === "complete" || obj.type === "cancelled") {
          ctx.terminate();
          close(1000);
        }
      },
    );
  },
};

export const CLIENTS = {
  goose,
  "ws-events": wsEvents,
  "chunk-complete": chunkComplete,
  "sse-delta-done": sseDeltaDone,
  "message-stream": messageStream,
  "goose-web": gooseWeb,
};
