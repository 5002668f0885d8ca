# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Machine types the emulator knows and the model-size / GPU-fit rule (see README.md beside this file)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from .common import (
    ApiError,
    NODE_RESERVED_CPU,
    NODE_RESERVED_MEMORY_MB,
    PARAMS_RE,
    VLLM_DEFAULT_GPU_UTIL,
    VLLM_DEFAULT_MAX_MODEL_LEN,
)


@dataclass(frozen=True)
class InstanceType:
    """An ECS / public EAS machine type. ``gpu_usable_gib`` is what CUDA reports (24 GB A10 -> 22.49 GiB)."""

    name: str
    cpu: int
    memory_gib: float
    gpu: int = 0
    gpu_type: str = ''
    gpu_memory_gb: float = 0.0
    gpu_usable_gib: float = 0.0

    @property
    def memory_mb(self) -> int:
        return int(self.memory_gib * 1024)

    @property
    def allocatable_cpu(self) -> int:
        return max(self.cpu - NODE_RESERVED_CPU, 0)

    @property
    def allocatable_memory_mb(self) -> int:
        return max(self.memory_mb - NODE_RESERVED_MEMORY_MB, 0)


def _itypes(*types: InstanceType) -> dict:
    return {t.name: t for t in types}


INSTANCE_TYPES = _itypes(
    InstanceType('ecs.gn7i-c8g1.2xlarge', 8, 30, 1, 'NVIDIA A10', 24, 22.49),
    InstanceType('ecs.gn7i-c16g1.4xlarge', 16, 60, 1, 'NVIDIA A10', 24, 22.49),
    InstanceType('ecs.gn7i-c32g1.8xlarge', 32, 188, 1, 'NVIDIA A10', 24, 22.49),
    InstanceType('ecs.gn7i-2x.8xlarge', 32, 128, 2, 'NVIDIA A10', 24, 22.49),
    InstanceType('ecs.gn6i-c4g1.xlarge', 4, 15, 1, 'NVIDIA T4', 16, 14.58),
    InstanceType('ecs.gn6e-c12g1.3xlarge', 12, 92, 1, 'NVIDIA V100', 32, 31.74),
    InstanceType('ecs.gn7-c12g1.3xlarge', 12, 94, 1, 'NVIDIA A100', 40, 39.39),
    InstanceType('ecs.gu7i-c16g1.4xlarge', 16, 60, 1, 'NVIDIA GU30', 24, 22.49),
    InstanceType('ecs.c7.2xlarge', 8, 16),
    InstanceType('ecs.g7.2xlarge', 8, 32),
    InstanceType('ecs.g6.xlarge', 4, 16),
    InstanceType('ml.gu7i.c8m30.1-gu30', 8, 30, 1, 'NVIDIA GU30', 24, 22.49),
    InstanceType('ml.gu7i.c16m60.1-gu30', 16, 60, 1, 'NVIDIA GU30', 24, 22.49),
)


def lookup_instance_type(name, what: str = 'instance type') -> InstanceType:
    if not name:
        raise ApiError(400, 'InvalidParameter', f'The {what} is required.')
    itype = INSTANCE_TYPES.get(str(name))
    if itype is None:
        raise ApiError(
            400,
            'InvalidParameter',
            f'The {what} {name} is not supported in this region. Supported: {", ".join(sorted(INSTANCE_TYPES))}',
        )
    return itype


def _split_command(text: str) -> list:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _flag_value(tokens: list, *names: str):
    for index, token in enumerate(tokens):
        for name in names:
            if token == name and index + 1 < len(tokens):
                return tokens[index + 1]
            if token.startswith(name + '='):
                return token.split('=', 1)[1]
    return None


def _flag_values(tokens: list, name: str) -> list:
    """All values of a nargs='+' flag such as ``--served-model-name a b``."""
    for index, token in enumerate(tokens):
        if token.startswith(name + '='):
            return [token.split('=', 1)[1]]
        if token == name:
            values = []
            for value in tokens[index + 1 :]:
                if value.startswith('-'):
                    break
                values.append(value)
            return values
    return []


@dataclass
class ModelProfile:
    """What the emulator infers from a service config about the model vLLM would serve."""

    is_vllm: bool = False
    served_names: list = field(default_factory=list)
    model_path: str = ''
    params_b: float | None = None
    max_model_len: int | None = None
    gpu_util: float = VLLM_DEFAULT_GPU_UTIL
    reasoning: bool = False
    port: int = 8000
    image: str = ''

    @property
    def served_name(self) -> str:
        return self.served_names[0] if self.served_names else (self.model_path or 'model')

    @property
    def effective_max_len(self) -> int:
        return self.max_model_len or VLLM_DEFAULT_MAX_MODEL_LEN

    @property
    def kv_kib_per_token(self) -> float:
        """KV cache per token (bf16): 1.5B-class 28 KiB, 7B-class 56 KiB, larger scaled linearly from 7B."""
        params = self.params_b or 0
        if params <= 3:
            return 28.0
        if params <= 8:
            return 56.0
        return 56.0 * params / 7.0

    @classmethod
    def from_config(cls, config: dict) -> ModelProfile:
        profile = cls()
        containers = config.get('containers') or []
        tokens = []
        for container in containers if isinstance(containers, list) else []:
            if not isinstance(container, dict):
                continue
            profile.image = profile.image or str(container.get('image') or '')
            if container.get('port'):
                try:
                    profile.port = int(container['port'])
                except (TypeError, ValueError):
                    pass
            for key in ('script', 'command'):
                value = container.get(key)
                if isinstance(value, list):
                    tokens.extend(str(v) for v in value)
                elif value:
                    tokens.extend(_split_command(str(value)))
            args = container.get('args')
            if isinstance(args, list):
                tokens.extend(str(v) for v in args)
        profile.is_vllm = any('vllm' in token for token in tokens)
        profile.served_names = _flag_values(tokens, '--served-model-name')
        path = _flag_value(tokens, '--model')
        if path is None and 'serve' in tokens:
            following = tokens[tokens.index('serve') + 1 :]
            path = following[0] if following and not following[0].startswith('-') else None
        fallback = config.get('model_path') or config.get('model') or ''
        profile.model_path = str(path or fallback)
        max_len = _flag_value(tokens, '--max-model-len')
        if max_len:
            try:
                profile.max_model_len = int(max_len.lower().replace('k', '000'))
            except ValueError:
                profile.max_model_len = None
        util = _flag_value(tokens, '--gpu-memory-utilization')
        if util:
            try:
                profile.gpu_util = float(util)
            except ValueError:
                pass
        profile.reasoning = _flag_value(tokens, '--reasoning-parser') is not None or '--enable-reasoning' in tokens
        sources = list(profile.served_names) + [profile.model_path, str(fallback)]
        for storage in config.get('storage') or []:
            if isinstance(storage, dict) and isinstance(storage.get('oss'), dict):
                sources.append(str(storage['oss'].get('path') or ''))
        for source in sources:
            match = PARAMS_RE.search(source or '')
            if match:
                profile.params_b = float(match.group(1))
                break
        return profile


@dataclass
class FitResult:
    """Outcome of starting the model on a GPU: ok, or the crash with the vLLM log line."""

    ok: bool = True
    kv_tokens: int = 0
    weights_gib: float = 0.0
    total_gib: float = 0.0
    error: str = ''
    cause: str = ''
    advices: list = field(default_factory=list)


def gpu_fit(profile: ModelProfile, itype: InstanceType | None, gpus: float) -> FitResult:
    """Estimate whether vLLM starts: weights 2 bytes/param, 1.5 GiB activations, KV cache for max_model_len tokens."""
    if not profile.is_vllm or profile.params_b is None or itype is None:
        return FitResult()
    if gpus <= 0 or itype.gpu == 0:
        return FitResult(
            ok=False,
            error='RuntimeError: No CUDA GPUs are available',
            cause='The container requested no GPU (metadata.gpu) but vLLM needs one.',
            advices=['Set metadata.gpu to 1 (or more) and use a GPU instance type.'],
        )
    total = itype.gpu_usable_gib * min(gpus, itype.gpu)
    budget = total * profile.gpu_util
    weights = profile.params_b * 1e9 * 2 / 2**30
    kv_gib = budget - weights - 1.5
    result = FitResult(weights_gib=weights, total_gib=total)
    if kv_gib <= 0:
        result.ok = False
        result.error = (
            f'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.02 GiB. GPU 0 has a total capacity of {total:.2f} GiB '
            f'of which 0.41 GiB is free. Model weights need about {weights:.2f} GiB.'
        )
        result.cause = (
            f'The model weights (~{weights:.1f} GiB) do not fit into {budget:.1f} GiB of GPU memory ({itype.gpu_type}).'
        )
        result.advices = ['Use a GPU with more memory, several GPUs (--tensor-parallel-size) or a quantized model.']
        return result
    result.kv_tokens = int(kv_gib * 2**30 / (profile.kv_kib_per_token * 1024)) // 16 * 16
    if profile.effective_max_len > result.kv_tokens:
        result.ok = False
        result.error = (
            f"ValueError: The model's max seq len ({profile.effective_max_len}) is larger than the maximum number of tokens "
            f'that can be stored in KV cache ({result.kv_tokens}). Try increasing `gpu_memory_utilization` or decreasing '
            '`max_model_len` when initializing the engine.'
        )
        result.cause = (
            f'vLLM needs KV cache for {profile.effective_max_len} tokens but only {result.kv_tokens} fit on {itype.gpu_type} '
            f'({total:.2f} GiB x {profile.gpu_util} minus {weights:.1f} GiB weights).'
        )
        result.advices = [
            f'Add --max-model-len {min(32768, result.kv_tokens)} (or lower) to the vLLM command.',
            'Use a GPU with more memory (e.g. ecs.gn6e-c12g1.3xlarge) or a quantized model.',
        ]
    return result
