# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data plane: a per-service, vLLM-like OpenAI-compatible endpoint behind an EAS-like gateway."""

from __future__ import annotations

import json
import secrets
import time
import uuid

from .catalog import ModelProfile
from .common import DEFAULT_ANSWER_TOKENS, LONG_ANSWER_TOKENS, TOKENS_MARKER_RE, Request, Response
from .state import Store


REASONING_SENTENCES = (
    'Let me think about this step by step.',
    'First I restate what is being asked and check the key facts.',
    'Then I consider the simplest correct answer and verify it again.',
    'I should keep the final answer short, clear and friendly.',
)
ANSWER_SENTENCES = (
    'Here is a clear and deterministic answer.',
    'The lab emulator always returns the same words for the same prompt.',
    'Each word counts as one token in the usage numbers.',
    'Ask for a long answer or add tokens:N to the prompt to get N tokens.',
)

ANSWER_SENTENCES_ZH = '这是实验室里的模拟回答，每个汉字算作一个词元。'


def count_tokens(text: str) -> int:
    """The emulator's tokenizer: whitespace-separated words."""
    return len(text.split())


def message_text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return ' '.join(str(part.get('text', '')) for part in content if isinstance(part, dict))
    return ''


def answer_pieces(prompt: str, model: str, reasoning: bool) -> list:
    """The deterministic completion as (channel, text) pieces, one piece per token.

    Length: DEFAULT_ANSWER_TOKENS, or N when the prompt contains ``tokens:N``, or LONG_ANSWER_TOKENS when it contains
    ``long answer``. The first 40 % is the reasoning (``reasoning_content`` with a reasoning parser, else inline in
    ``content`` and closed by a ``</think>`` token).
    """
    marker = TOKENS_MARKER_RE.search(prompt)
    if marker:
        total = max(int(marker.group(1)), 2)
    elif 'long answer' in prompt.lower():
        total = LONG_ANSWER_TOKENS
    else:
        total = DEFAULT_ANSWER_TOKENS
    think = max(total * 2 // 5, 1)
    echo = ' '.join(prompt.split()[:12]) or 'an empty prompt'
    think_words = f'Okay, the user asks: "{echo}".'.split()
    while len(think_words) < think:
        think_words += ' '.join(REASONING_SENTENCES).split()
    chinese = any('\u4e00' <= ch <= '\u9fff' for ch in prompt)
    if chinese:
        # Asked in Chinese, a model answers in Chinese: one character per token, no spaces between them.
        answer_words = list(f'你好！我是 {model}，由 PAI-EAS 实验室模拟器提供服务。')
        while len(answer_words) < total:
            answer_words += list(ANSWER_SENTENCES_ZH)
    else:
        answer_words = f'Hello! I am {model}, served by the PAI-EAS lab emulator.'.split()
        while len(answer_words) < total:
            answer_words += ' '.join(ANSWER_SENTENCES).split()
    sep = '' if chinese else ' '
    pieces = []
    if reasoning:
        pieces += [('reasoning', (' ' if i else '') + w) for i, w in enumerate(think_words[:think])]
        pieces += [('content', (sep if i else '') + w) for i, w in enumerate(answer_words[: total - think])]
    else:
        pieces += [('content', (' ' if i else '') + w) for i, w in enumerate(think_words[: think - 1])]
        pieces.append(('content', '\n</think>\n\n'))
        pieces += [('content', (sep if i else '') + w) for i, w in enumerate(answer_words[: total - think])]
    return pieces


def vllm_error(status: int, message: str, etype: str) -> Response:
    return Response.json(status, {'object': 'error', 'message': message, 'type': etype, 'param': None, 'code': status})


class DataPlane:
    """``<public-url>/api/predict/<service>/...``: gateway checks, then a vLLM-like OpenAI server."""

    PREFIX = '/api/predict/'

    def __init__(self, store: Store):
        self.store = store

    def handle(self, req: Request, now: float) -> Response:
        rest = req.path[len(self.PREFIX) :]
        name, _sep, sub = rest.partition('/')
        sub = '/' + sub
        with self.store.lock:
            self.store.advance(now)
            svc = self.store.services.get(name)
            if svc is None:
                return Response.text(404, f'service {name} not found')
            token = svc.token
            serving = svc.serving(now, self.store.settings.gateway_warmup_seconds)
            profile = ModelProfile.from_config(svc.config)
            created = int(svc.running_since or svc.created)
        auth = req.headers.get('authorization', '').strip()
        if auth.lower().startswith('bearer '):
            auth = auth[7:].strip()
        if not auth or not secrets.compare_digest(auth, token):
            return Response.text(401, 'Authorization failed')
        if not serving:
            return Response.text(503, 'no healthy upstream')
        if sub in ('/health', '/ping') and req.method == 'GET':
            return Response(200, b'', 'text/plain')
        if sub == '/v1/models' and req.method == 'GET':
            return self.models(profile, created)
        if sub == '/v1/chat/completions' and req.method == 'POST':
            return self.completions(req, profile, chat=True)
        if sub == '/v1/completions' and req.method == 'POST':
            return self.completions(req, profile, chat=False)
        return Response.json(404, {'detail': 'Not Found'})

    @staticmethod
    def models(profile: ModelProfile, created: int) -> Response:
        names = profile.served_names or [profile.served_name]
        data = [
            {
                'id': n,
                'object': 'model',
                'created': created,
                'owned_by': 'vllm',
                'root': profile.model_path or n,
                'parent': None,
                'max_model_len': profile.effective_max_len,
                'permission': [
                    {
                        'id': f'modelperm-{n}',
                        'object': 'model_permission',
                        'created': created,
                        'allow_create_engine': False,
                        'allow_sampling': True,
                        'allow_logprobs': True,
                        'allow_search_indices': False,
                        'allow_view': True,
                        'allow_fine_tuning': False,
                        'organization': '*',
                        'group': None,
                        'is_blocking': False,
                    }
                ],
            }
            for n in names
        ]
        return Response.json(200, {'object': 'list', 'data': data})

    def completions(self, req: Request, profile: ModelProfile, chat: bool) -> Response:
        try:
            body = json.loads(req.body or b'{}')
        except ValueError as exc:
            return vllm_error(400, f'Invalid JSON body: {exc}', 'BadRequestError')
        if not isinstance(body, dict):
            return vllm_error(400, 'The request body must be a JSON object.', 'BadRequestError')
        names = profile.served_names or [profile.served_name]
        model = body.get('model') or names[0]
        if model not in names:
            return vllm_error(404, f'The model `{model}` does not exist.', 'NotFoundError')
        if chat:
            messages = body.get('messages')
            if not isinstance(messages, list) or not messages:
                return vllm_error(400, 'messages must be a non-empty list.', 'BadRequestError')
            texts = [message_text(m.get('content')) for m in messages if isinstance(m, dict)]
            users = [
                message_text(m.get('content')) for m in messages if isinstance(m, dict) and m.get('role') == 'user'
            ]
            prompt = users[-1] if users else texts[-1]
            prompt_tokens = max(sum(count_tokens(t) for t in texts), 1)
        else:
            prompt = body.get('prompt') if isinstance(body.get('prompt'), str) else ''
            prompt_tokens = max(count_tokens(prompt), 1)
        max_len = profile.effective_max_len
        max_tokens = body.get('max_completion_tokens') or body.get('max_tokens')
        if max_tokens is not None and (
            not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
        ):
            return vllm_error(400, f'max_tokens must be at least 1, got {max_tokens}.', 'BadRequestError')
        if max_tokens is None:
            max_tokens = max_len - prompt_tokens
        if prompt_tokens + max_tokens > max_len:
            where = 'messages' if chat else 'prompt'
            return vllm_error(
                400,
                f"This model's maximum context length is {max_len} tokens. However, you requested {prompt_tokens + max_tokens} "
                f'tokens ({prompt_tokens} in the {where}, {max_tokens} in the completion). Please reduce the length of the '
                f'{where} or completion.',
                'BadRequestError',
            )
        pieces = answer_pieces(prompt, model, reasoning=chat and profile.reasoning)
        finish = 'stop'
        if len(pieces) > max_tokens:
            pieces, finish = pieces[:max_tokens], 'length'
        usage = {
            'prompt_tokens': prompt_tokens,
            'completion_tokens': len(pieces),
            'total_tokens': prompt_tokens + len(pieces),
            'prompt_tokens_details': None,
        }
        ident = ('chatcmpl-' if chat else 'cmpl-') + uuid.uuid4().hex
        created = int(time.time())
        if body.get('stream'):
            include_usage = bool((body.get('stream_options') or {}).get('include_usage'))
            return Response(
                200,
                b'',
                'text/event-stream; charset=utf-8',
                {'Cache-Control': 'no-cache'},
                stream=self._stream(ident, created, model, pieces, finish, usage if include_usage else None, chat),
            )
        reasoning = ''.join(t for c, t in pieces if c == 'reasoning')
        content = ''.join(t for c, t in pieces if c == 'content')
        if chat:
            message = {'role': 'assistant', 'content': content or None, 'tool_calls': []}
            if profile.reasoning:
                message = {
                    'role': 'assistant',
                    'reasoning_content': reasoning or None,
                    'content': content or None,
                    'tool_calls': [],
                }
            choice = {'index': 0, 'message': message, 'logprobs': None, 'finish_reason': finish, 'stop_reason': None}
            payload = {
                'id': ident,
                'object': 'chat.completion',
                'created': created,
                'model': model,
                'choices': [choice],
                'usage': usage,
                'prompt_logprobs': None,
            }
        else:
            choice = {'index': 0, 'text': content, 'logprobs': None, 'finish_reason': finish, 'stop_reason': None}
            payload = {
                'id': ident,
                'object': 'text_completion',
                'created': created,
                'model': model,
                'choices': [choice],
                'usage': usage,
            }
        return Response.json(200, payload)

    @staticmethod
    def _stream(ident: str, created: int, model: str, pieces: list, finish: str, usage: dict | None, chat: bool):
        obj = 'chat.completion.chunk' if chat else 'text_completion'

        def event(choices: list, extra: dict | None = None) -> bytes:
            payload = {'id': ident, 'object': obj, 'created': created, 'model': model, 'choices': choices}
            payload.update(extra or {})
            return f'data: {json.dumps(payload)}\n\n'.encode()

        if chat:
            yield event(
                [{'index': 0, 'delta': {'role': 'assistant', 'content': ''}, 'logprobs': None, 'finish_reason': None}]
            )
        step = 8
        for start in range(0, len(pieces), step):
            group = pieces[start : start + step]
            for channel in ('reasoning', 'content'):
                text = ''.join(t for c, t in group if c == channel)
                if not text:
                    continue
                if chat:
                    delta = {'reasoning_content': text} if channel == 'reasoning' else {'content': text}
                    yield event([{'index': 0, 'delta': delta, 'logprobs': None, 'finish_reason': None}])
                else:
                    yield event([{'index': 0, 'text': text, 'logprobs': None, 'finish_reason': None}])
        last = (
            {'index': 0, 'delta': {}, 'logprobs': None, 'finish_reason': finish, 'stop_reason': None}
            if chat
            else {'index': 0, 'text': '', 'logprobs': None, 'finish_reason': finish, 'stop_reason': None}
        )
        yield event([last])
        if usage is not None:
            yield event([], {'usage': usage})
        yield b'data: [DONE]\n\n'
