// Copy-paste client code for each protocol card: curl (HTTP protocols), streamctl, and browser
// JavaScript written the way the seed documents' clients are. The browser tests run the
// JavaScript as shown.

/** [{label, code}] for a protocol: curl (HTTP only), streamctl, and browser JavaScript. */
export function snippets(name, base, wsBase) {
  const make = SNIPPETS[name];
  return make ? make(base, wsBase) : [{ label: "streamctl", code: `streamctl send ${name} ${base} "Hello"` }];
}

const SNIPPETS = {
  goose: (base) => {
    const body = `{"session_id": "demo", "session_working_dir": "/tmp",
       "messages": [{"role": "user", "created": 0,
                     "content": [{"type": "text", "text": "Hello"}]}]}`;
    return [
      {
        label: "curl",
        code: `curl -N -X POST ${base}/reply \\\n  -H 'X-Secret-Key: test' -H 'Content-Type: application/json' \\\n  -d '${body}'`,
      },
      { label: "streamctl", code: `streamctl send goose ${base} "Hello" --secret-key test --session demo` },
      {
        label: "JavaScript",
        code: `const response = await fetch("${base}/reply", {
  method: "POST",
  headers: { "Content-Type": "application/json", "X-Secret-Key": "test" },
  body: JSON.stringify({
    messages: [{ role: "user", created: Math.floor(Date.now() / 1000),
                 content: [{ type: "text", text: "Hello" }] }],
    session_id: "demo", session_working_dir: "/tmp",
  }),
});
const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
let buffer = "", reply = "";
for (;;) {
  const { value, done } = await reader.read();
  if (done) break;
  buffer += value;
  let end;
  while ((end = buffer.indexOf("\\n\\n")) >= 0) {
    const block = buffer.slice(0, end);
    buffer = buffer.slice(end + 2);
    if (!block.startsWith("data: ")) continue;
    const event = JSON.parse(block.slice(6));
    if (event.type === "Message" && event.message.role === "assistant")
      for (const item of event.message.content)
        if (item.type === "text") reply += item.text;
  }
}
console.log(reply);`,
      },
    ];
  },
  "ws-events": (base, wsBase) => [
    { label: "streamctl", code: `streamctl send ws-events ${base} "Hello" --token "$(streamctl token)"` },
    {
      label: "JavaScript",
      code: `// a development JWT for the mock (streamctl token prints one too)
const { token } = await (await fetch("${base}/_streamctl/token?user=dev-user")).json();
const ws = new WebSocket("${wsBase}/ws/chat");
ws.onopen = () => {
  ws.send(JSON.stringify({ type: "join_chat", data: { token } }));
};
let reply = "";
ws.onmessage = (event) => {
  const msg = JSON.parse(event.data);
  if (msg.type === "chat_joined")
    ws.send(JSON.stringify({ type: "message", data: { message: "Hello" } }));
  if (msg.type === "assistant_message_token") reply += msg.data.token;
  if (msg.type === "assistant_message_complete") { console.log(reply); ws.close(); }
  if (msg.type === "error") console.error(msg.data.message);
};`,
    },
  ],
  "chunk-complete": (base, wsBase) => [
    { label: "streamctl", code: `streamctl send chunk-complete ${base} "Hello"` },
    {
      label: "JavaScript",
      code: `const ws = new WebSocket("${wsBase}/chat/ws");
let reply = "";
ws.onopen = () =>
  ws.send(JSON.stringify({ message: "Hello", timestamp: new Date().toISOString() }));
ws.onmessage = (event) => {
  const data = JSON.parse(event.data);
  if (data.type === "chunk") reply += data.text;
  else if (data.type === "complete") { console.log(reply); ws.close(); }
  else if (data.type === "error") console.error(data.message);
};`,
    },
  ],
  "goose-web": (base, wsBase) => [
    { label: "streamctl", code: `streamctl send goose-web ${base} "Hello" --session test-session` },
    {
      label: "JavaScript",
      code: `const ws = new WebSocket("${wsBase}/ws");
let reply = "";
ws.onopen = () =>
  ws.send(JSON.stringify({ type: "message", content: "Hello", session_id: "test-session", timestamp: Date.now() }));
ws.onmessage = (event) => {
  const data = JSON.parse(event.data);
  if (data.type === "response") reply += data.content;
  else if (data.type === "complete" || data.type === "cancelled") { console.log(reply); ws.close(); }
  else if (data.type === "error") console.error(data.message);
};`,
    },
  ],
  "sse-delta-done": (base) => [
    { label: "curl", code: `curl -N "${base}/api/chat/stream?message=Hello"` },
    { label: "streamctl", code: `streamctl send sse-delta-done ${base} "Hello"` },
    {
      label: "JavaScript",
      code: `const eventSource = new EventSource("${base}/api/chat/stream?message=Hello");
let accumulatedText = "";
eventSource.onmessage = (event) => {
  const data = JSON.parse(event.data);
  if (data.done) {
    eventSource.close();
    console.log(accumulatedText);
  } else if (data.delta) {
    accumulatedText += data.delta;
  }
};`,
    },
  ],
  "message-stream": (base) => [
    {
      label: "curl",
      code: `curl -N -X POST ${base}/api/web/v1/chats/1/messages/stream \\\n  -H 'Content-Type: application/json' -d '{"content": "Hello"}'`,
    },
    { label: "streamctl", code: `streamctl send message-stream ${base} "Hello" --chat 1` },
    {
      label: "JavaScript",
      code: `const response = await fetch("${base}/api/web/v1/chats/1/messages/stream", {
  method: "POST",
  headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
  body: JSON.stringify({ content: "Hello" }),
});
const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
let buffer = "", reply = "";
for (;;) {
  const { value, done } = await reader.read();
  if (done) break;
  buffer += value;
  let end;
  while ((end = buffer.indexOf("\\n\\n")) >= 0) {
    const block = buffer.slice(0, end);
    buffer = buffer.slice(end + 2);
    const data = block.split("\\n").find((line) => line.startsWith("data: "));
    if (!data) continue;
    const event = JSON.parse(data.slice(6));
    if (event.type === "message_delta") reply += event.delta;
    if (event.type === "message_end") console.log(reply);
    if (event.type === "error") console.error(event.error.message);
  }
}`,
    },
  ],
};
