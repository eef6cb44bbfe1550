"""The seed documents' own client code, run in a real browser against the mock server.

Each test runs a seed's client nearly verbatim in the page (same origin as the mock, like the
seeds' frontends), pointed at the mock's URLs, and checks it reassembles exactly the reply the
mock streams: the default reply, which quotes the message (``default_reply``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from streamctl.core.protocols import names
from streamctl.core.script import default_reply

if TYPE_CHECKING:
    from tests.browser import Playground

pytest_plugins = ("tests.browser",)
pytestmark = pytest.mark.browser


def expected(message: str) -> str:
    return default_reply(message).text


# Seed 001 (ws-events), "Пример тестирования в браузере", extended the way its useWebSocketChat
# hook goes on: once the chat is joined, send a message and collect the streamed tokens.
SEED_001 = """
async ({ message }) => {
  const { token } = await (await fetch('/_streamctl/token?user=seed-001')).json();
  return await new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${location.host}/ws/chat`);
    ws.onopen = () => {
      ws.send(JSON.stringify({
        type: 'join_chat',
        data: { token: token }
      }));
    };
    let streamingMessage = '';
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      console.log('Received:', msg);
      if (msg.type === 'chat_joined') {
        ws.send(JSON.stringify({ type: 'message', data: { message } }));
      } else if (msg.type === 'assistant_message_token') {
        streamingMessage += msg.data.token;
      } else if (msg.type === 'assistant_message_complete') {
        ws.close();
        resolve({ streamed: streamingMessage, content: msg.data.content });
      } else if (msg.type === 'error') {
        reject(new Error(msg.data.message));
      }
    };
    ws.onerror = () => reject(new Error('WebSocket error'));
  });
}
"""


def test_seed_001_websocket_join_chat_reassembles_the_reply(playground: Playground) -> None:
    message = "Привет!"
    result = playground.page.evaluate(SEED_001, {"message": message})
    assert result == {"streamed": expected(message), "content": expected(message)}


# Seed 002 (sse-delta-done), frontend/chat.html: EventSource, onmessage, close on data.done.
SEED_002 = """
({ message }) => new Promise((resolve, reject) => {
  let accumulatedText = '';
  const displayText = (text) => { document.body.dataset.seed002 = text; };
  const eventSource = new EventSource(
    '/api/chat/stream?message=' + encodeURIComponent(message) + '&file_path=test_data.csv');

  eventSource.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (data.done) {
          eventSource.close();
          resolve(accumulatedText);
      } else if (data.delta) {
          accumulatedText += data.delta;
          displayText(accumulatedText);
      }
  };
  eventSource.onerror = () => { eventSource.close(); reject(new Error('EventSource error')); };
})
"""


def test_seed_002_eventsource_delta_done_reassembles_the_reply(playground: Playground) -> None:
    message = "Привет, как дела?"
    assert playground.page.evaluate(SEED_002, {"message": message}) == expected(message)


# Seed 003 (chunk-complete): the ChatUI's handling, in browser JavaScript — send
# {"message", "timestamp"}, gather "chunk" texts by message_id until "complete".
SEED_003 = """
({ messages }) => new Promise((resolve, reject) => {
  const ws = new WebSocket(`ws://${location.host}/chat/ws`);
  const replies = {};
  const done = [];
  const sendNext = () => ws.send(JSON.stringify({
    message: messages[done.length],
    timestamp: new Date().toISOString(),
  }));
  ws.onopen = sendNext;
  ws.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (data.type === 'chunk') {
      replies[data.message_id] = (replies[data.message_id] || '') + data.text;
    } else if (data.type === 'complete') {
      done.push([data.message_id, replies[data.message_id]]);
      if (done.length === messages.length) { ws.close(); resolve(done); } else sendNext();
    } else if (data.type === 'error') {
      reject(new Error(data.message));
    }
  };
  ws.onerror = () => reject(new Error('WebSocket error'));
})
"""


def test_seed_003_chunk_complete_reassembles_each_reply(playground: Playground) -> None:
    messages = ["Bonjour !", "Quelle musique écouter ce soir ?"]
    replies = playground.page.evaluate(SEED_003, {"messages": messages})
    assert replies == [["bot_1", expected(messages[0])], ["bot_2", expected(messages[1])]]


# Seed 000 (goose): what its ChatStreamer reads from goosed — POST /reply with X-Secret-Key,
# an event stream of `data: <json>` events — with a streaming fetch reader.
GOOSE = """
async ({ message }) => {
  const response = await fetch('/reply', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Secret-Key': 'test' },
    body: JSON.stringify({
      messages: [{ role: 'user', created: Math.floor(Date.now() / 1000),
                   content: [{ type: 'text', text: message }] }],
      session_id: 'test-session',
      session_working_dir: '/tmp',
    }),
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '', reply = '', finished = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const events = buffer.split('\\n\\n');
    buffer = events.pop();
    for (const event of events) {
      for (const line of event.split('\\n')) {
        if (!line.startsWith('data: ')) continue;
        const data = JSON.parse(line.slice(6));
        if (data.type === 'Message' && data.message.role === 'assistant') {
          for (const item of data.message.content) if (item.type === 'text') reply += item.text;
        } else if (data.type === 'Finish') {
          finished = true;
        }
      }
    }
  }
  return { reply, finished };
}
"""


def test_goose_fetch_sse_reader_reassembles_the_reply(playground: Playground) -> None:
    message = "Привіт"
    result = playground.page.evaluate(GOOSE, {"message": message})
    assert result == {"reply": expected(message), "finished": True}


# Seed 004 (message-stream): a MessageStreamHandler that parses "Server-Sent Events and JSON
# lines" with callbacks for message_start, message_delta, message_end and error.
MESSAGE_STREAM = """
async ({ message, ndjson }) => {
  class MessageStreamHandler {
    constructor(callbacks) { this.callbacks = callbacks; this.buffer = ''; }
    feed(text) {
      this.buffer += text;
      const separator = ndjson ? '\\n' : '\\n\\n';
      const blocks = this.buffer.split(separator);
      this.buffer = blocks.pop();
      for (const block of blocks) {
        const line = ndjson ? block : block.split('\\n').find((l) => l.startsWith('data:'));
        if (!line || !line.trim()) continue;
        const event = JSON.parse(ndjson ? line : line.slice(5).trim());
        this.callbacks[event.type]?.(event);
      }
    }
  }
  let content = '', ended = null;
  const handler = new MessageStreamHandler({
    message_start: () => { content = ''; },
    message_delta: (event) => { content += event.delta; },
    message_end: (event) => { ended = event.message.content; },
    error: (event) => { throw new Error(event.error.message); },
  });
  const response = await fetch('/api/web/v1/chats/7/messages/stream', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: ndjson ? 'application/x-ndjson' : 'text/event-stream',
    },
    body: JSON.stringify({ content: message }),
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    handler.feed(value);
  }
  return { content, ended };
}
"""


@pytest.mark.parametrize("ndjson", [False, True], ids=["sse", "ndjson"])
def test_message_stream_fetch_reader_reassembles_the_reply(
    playground: Playground, ndjson: bool
) -> None:
    message = "Привет! Как работает streaming?"
    result = playground.page.evaluate(MESSAGE_STREAM, {"message": message, "ndjson": ndjson})
    assert result == {"content": expected(message), "ended": expected(message)}


# The code the page itself shows on each protocol card ("JavaScript" tab) runs as shown.
RUN_SNIPPET = """
async (code) => {
  const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
  await new AsyncFunction(code)();
}
"""


@pytest.mark.parametrize("protocol", names())
def test_the_pages_javascript_snippet_prints_the_reply(
    playground: Playground, protocol: str
) -> None:
    page = playground.page
    card = page.locator(f"#card-{protocol}")
    card.locator(".tab", has_text="JavaScript").click()
    code = card.locator("pre.code:not([hidden])").inner_text()
    with page.expect_console_message(lambda m: m.text == expected("Hello")) as printed:
        page.evaluate(RUN_SNIPPET, code)
    assert printed.value.type == "log"
