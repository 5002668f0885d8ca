# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data one-api v0.6.6 is built with: channel types and base URLs, the model catalogue, ratios, default options."""

from __future__ import annotations

import json

from .gojson import GoStruct, go_kind

VERSION = "v0.6.6"

ROLE_COMMON, ROLE_ADMIN, ROLE_ROOT = 1, 10, 100
USER_ENABLED, USER_DISABLED = 1, 2
CHANNEL_ENABLED = 1
TOKEN_ENABLED, TOKEN_DISABLED, TOKEN_EXPIRED, TOKEN_EXHAUSTED = 1, 2, 3, 4
ITEMS_PER_PAGE = 10
PASSWORD_SENTINEL = "$I_LOVE_U"

# relay/channeltype/url.go (v0.6.6 ends at 39 TogetherAI; Dummy = 40)
CHANNEL_BASE_URLS = [
    "",
    "https://api.openai.com",
    "https://oa.api2d.net",
    "",
    "https://api.closeai-proxy.xyz",
    "https://api.openai-sb.com",
    "https://api.openaimax.com",
    "https://api.ohmygpt.com",
    "",
    "https://api.caipacity.com",
    "https://api.aiproxy.io",
    "https://generativelanguage.googleapis.com",
    "https://api.api2gpt.com",
    "https://api.aigc2d.com",
    "https://api.anthropic.com",
    "https://aip.baidubce.com",
    "https://open.bigmodel.cn",
    "https://dashscope.aliyuncs.com",
    "",
    "https://ai.360.cn",
    "https://openrouter.ai/api",
    "https://api.aiproxy.io",
    "https://fastgpt.run/api/openapi",
    "https://hunyuan.cloud.tencent.com",
    "https://generativelanguage.googleapis.com",
    "https://api.moonshot.cn",
    "https://api.baichuan-ai.com",
    "https://api.minimax.chat",
    "https://api.mistral.ai",
    "https://api.groq.com/openai",
    "http://localhost:11434",
    "https://api.lingyiwanwu.com",
    "https://api.stepfun.com",
    "",
    "https://api.coze.com",
    "https://api.cohere.ai",
    "https://api.deepseek.com",
    "https://api.cloudflare.com",
    "https://api-free.deepl.com",
    "https://api.together.xyz",
]
# channel types that do NOT use the OpenAI adaptor (relay/channeltype/helper.go: ToAPIType)
NON_OPENAI_TYPES = {
    14: "Anthropic",
    15: "Baidu",
    11: "PaLM",
    16: "Zhipu",
    17: "Ali",
    18: "Xunfei",
    21: "AIProxyLibrary",
    23: "Tencent",
    24: "Gemini",
    30: "Ollama",
    33: "AwsClaude",
    34: "Coze",
    35: "Cohere",
    37: "Cloudflare",
    38: "DeepL",
}
TYPE_AZURE, TYPE_BAICHUAN, TYPE_DEEPSEEK = 3, 26, 36
# relay/adaptor/openai/compatible.go GetCompatibleChannelMeta: the model list an OpenAI-compatible type reports
COMPATIBLE_OWNERS = {
    19: "360",
    25: "moonshot",
    26: "baichuan",
    27: "minimax",
    28: "mistralai",
    29: "groq",
    31: "lingyiwanwu",
    32: "stepfun",
    36: "deepseek",
    39: "together.ai",
}

# controller/model.go: every adaptor's model list, in order (GET /api/channel/models, /v1/models); ids may repeat
CATALOGUE = (
    (
        "openai",
        (
            "gpt-3.5-turbo,gpt-3.5-turbo-0301,gpt-3.5-turbo-0613,gpt-3.5-turbo-1106,gpt-3.5-turbo-0125,"
            "gpt-3.5-turbo-16k,gpt-3.5-turbo-16k-0613,gpt-3.5-turbo-instruct,gpt-4,gpt-4-0314,gpt-4-0613,"
            "gpt-4-1106-preview,gpt-4-0125-preview,gpt-4-32k,gpt-4-32k-0314,gpt-4-32k-0613,gpt-4-turbo-preview,"
            "gpt-4-turbo,gpt-4-turbo-2024-04-09,gpt-4-vision-preview,text-embedding-ada-002,"
            "text-embedding-3-small,text-embedding-3-large,text-curie-001,text-babbage-001,text-ada-001,"
            "text-davinci-002,text-davinci-003,text-moderation-latest,text-moderation-stable,"
            "text-davinci-edit-001,davinci-002,babbage-002,dall-e-2,dall-e-3,whisper-1,tts-1,tts-1-1106,tts-1-hd,"
            "tts-1-hd-1106"
        ),
    ),
    (
        "anthropic",
        (
            "claude-instant-1.2,claude-2.0,claude-2.1,claude-3-haiku-20240307,claude-3-sonnet-20240229,"
            "claude-3-opus-20240229"
        ),
    ),
    ("google palm", "PaLM-2"),
    (
        "baidu",
        (
            "ERNIE-4.0-8K,ERNIE-3.5-8K,ERNIE-3.5-8K-0205,ERNIE-3.5-8K-1222,ERNIE-Bot-8K,ERNIE-3.5-4K-0205,"
            "ERNIE-Speed-8K,ERNIE-Speed-128K,ERNIE-Lite-8K-0922,ERNIE-Lite-8K-0308,ERNIE-Tiny-8K,BLOOMZ-7B,"
            "Embedding-V1,bge-large-zh,bge-large-en,tao-8k"
        ),
    ),
    ("zhipu", "chatglm_turbo,chatglm_pro,chatglm_std,chatglm_lite,glm-4,glm-4v,glm-3-turbo,embedding-2,cogview-3"),
    (
        "ali",
        (
            "qwen-turbo,qwen-plus,qwen-max,qwen-max-longcontext,text-embedding-v1,ali-stable-diffusion-xl,"
            "ali-stable-diffusion-v1.5,wanx-v1"
        ),
    ),
    ("xunfei", "SparkDesk,SparkDesk-v1.1,SparkDesk-v2.1,SparkDesk-v3.1,SparkDesk-v3.5"),
    ("tencent", "ChatPro,ChatStd,hunyuan"),
    ("google gemini", "gemini-pro,gemini-1.0-pro-001,gemini-1.5-pro,gemini-pro-vision,gemini-1.0-pro-vision-001"),
    ("ollama", "codellama:7b-instruct,llama2:7b,llama2:latest,llama3:latest,phi3:latest,qwen:0.5b-chat,qwen:7b"),
    (
        "aws",
        "claude-instant-1.2,claude-2.0,claude-2.1,claude-3-sonnet-20240229,claude-3-opus-20240229,claude-3-haiku-20240307",
    ),
    (
        "Cohere",
        (
            "command,command-nightly,command-light,command-light-nightly,command-r,command-r-plus,"
            "command-internet,command-nightly-internet,command-light-internet,command-light-nightly-internet,"
            "command-r-internet,command-r-plus-internet"
        ),
    ),
    (
        "cloudflare",
        (
            "@cf/meta/llama-2-7b-chat-fp16,@cf/meta/llama-2-7b-chat-int8,@cf/mistral/mistral-7b-instruct-v0.1,"
            "@hf/thebloke/deepseek-coder-6.7b-base-awq,@hf/thebloke/deepseek-coder-6.7b-instruct-awq,"
            "@cf/deepseek-ai/deepseek-math-7b-base,@cf/deepseek-ai/deepseek-math-7b-instruct,"
            "@cf/thebloke/discolm-german-7b-v1-awq,@cf/tiiuae/falcon-7b-instruct,@cf/google/gemma-2b-it-lora,"
            "@hf/google/gemma-7b-it,@cf/google/gemma-7b-it-lora,@hf/nousresearch/hermes-2-pro-mistral-7b,"
            "@hf/thebloke/llama-2-13b-chat-awq,@cf/meta-llama/llama-2-7b-chat-hf-lora,"
            "@cf/meta/llama-3-8b-instruct,@hf/thebloke/llamaguard-7b-awq,"
            "@hf/thebloke/mistral-7b-instruct-v0.1-awq,@hf/mistralai/mistral-7b-instruct-v0.2,"
            "@cf/mistral/mistral-7b-instruct-v0.2-lora,@hf/thebloke/neural-chat-7b-v3-1-awq,"
            "@cf/openchat/openchat-3.5-0106,@hf/thebloke/openhermes-2.5-mistral-7b-awq,@cf/microsoft/phi-2,"
            "@cf/qwen/qwen1.5-0.5b-chat,@cf/qwen/qwen1.5-1.8b-chat,@cf/qwen/qwen1.5-14b-chat-awq,"
            "@cf/qwen/qwen1.5-7b-chat-awq,@cf/defog/sqlcoder-7b-2,@hf/nexusflow/starling-lm-7b-beta,"
            "@cf/tinyllama/tinyllama-1.1b-chat-v1.0,@hf/thebloke/zephyr-7b-beta-awq"
        ),
    ),
    ("deepl", "deepl-zh,deepl-en,deepl-ja"),
    ("360", "360GPT_S2_V9,embedding-bert-512-v1,embedding_s1_v1,semantic_similarity_s1_v1"),
    ("moonshot", "moonshot-v1-8k,moonshot-v1-32k,moonshot-v1-128k"),
    ("baichuan", "Baichuan2-Turbo,Baichuan2-Turbo-192k,Baichuan-Text-Embedding"),
    ("minimax", "abab6.5-chat,abab6.5s-chat,abab6-chat,abab5.5-chat,abab5.5s-chat"),
    (
        "mistralai",
        (
            "open-mistral-7b,open-mixtral-8x7b,mistral-small-latest,mistral-medium-latest,mistral-large-latest,"
            "mistral-embed"
        ),
    ),
    ("groq", "gemma-7b-it,llama2-7b-2048,llama2-70b-4096,mixtral-8x7b-32768,llama3-8b-8192,llama3-70b-8192"),
    ("lingyiwanwu", "yi-34b-chat-0205,yi-34b-chat-200k,yi-vl-plus"),
    ("stepfun", "step-1-32k,step-1v-32k,step-1-200k"),
    ("deepseek", "deepseek-chat,deepseek-coder"),
    (
        "together.ai",
        (
            "meta-llama/Llama-3-70b-chat-hf,deepseek-ai/deepseek-coder-33b-instruct,"
            "mistralai/Mixtral-8x22B-Instruct-v0.1,Qwen/Qwen1.5-72B-Chat"
        ),
    ),
)


def catalogue_names(owner: str) -> list:
    for name, ids in CATALOGUE:
        if name == owner:
            return ids.split(",")
    return []


def catalogue() -> list:
    """The OpenAIModels entries of controller/model.go, in order (duplicate ids kept)."""
    entries = []
    for owner, ids in CATALOGUE:
        for name in ids.split(","):
            permission = [
                GoStruct(
                    id="modelperm-LwHkVFn8AcMItP432fKKDIKJ",
                    object="model_permission",
                    created=1626777600,
                    allow_create_engine=True,
                    allow_sampling=True,
                    allow_logprobs=True,
                    allow_search_indices=False,
                    allow_view=True,
                    allow_fine_tuning=False,
                    organization="*",
                    group=None,
                    is_blocking=False,
                )
            ]
            entries.append(
                GoStruct(
                    id=name,
                    object="model",
                    created=1626777600,
                    owned_by=owner,
                    permission=permission,
                    root=name,
                    parent=None,
                )
            )
    return entries


def adaptor_first_model(channel_type: int) -> str:
    """adaptor.GetModelList()[0] of an OpenAI-adaptor channel type (controller/channel-test.go)."""
    return catalogue_names(COMPATIBLE_OWNERS.get(channel_type, "openai"))[0]


# relay/billing/ratio/model.go: the default ModelRatio option, as GET /api/option/ shows it
MODEL_RATIO_JSON = (
    "{\"360GPT_S2_V9\":0.8572,\"BLOOMZ-7B\":0.284,\"Baichuan2-53B\":1.42,\"Baichuan2-Turbo\":0.568,\"Baichuan2-Turbo-192k\":1"
    ".136,\"ChatPro\":7.1,\"ChatStd\":0.71,\"ERNIE-3.5-4K-0205\":0.852,\"ERNIE-3.5-8K\":0.852,\"ERNIE-3.5-8K-0205\":1.704,\"ER"
    "NIE-3.5-8K-1222\":0.852,\"ERNIE-4.0-8K\":8.52,\"ERNIE-Bot-8K\":1.704,\"ERNIE-Lite-8K-0308\":0.213,\"ERNIE-Lite-8K-0922"
    "\":0.568,\"ERNIE-Speed-128K\":0.284,\"ERNIE-Speed-8K\":0.284,\"ERNIE-Tiny-8K\":0.071,\"Embedding-V1\":0.142,\"PaLM-2\":1,"
    "\"SparkDesk\":1.2858,\"SparkDesk-v1.1\":1.2858,\"SparkDesk-v2.1\":1.2858,\"SparkDesk-v3.1\":1.2858,\"SparkDesk-v3.5\":1."
    "2858,\"abab5.5-chat\":1.065,\"abab5.5s-chat\":0.355,\"abab6-chat\":7.1,\"abab6.5-chat\":2.13,\"abab6.5s-chat\":0.71,\"ada"
    "\":10,\"ali-stable-diffusion-v1.5\":8,\"ali-stable-diffusion-xl\":8,\"babbage\":10,\"babbage-002\":0.2,\"bge-large-en\":0"
    ".142,\"bge-large-zh\":0.142,\"chatglm_lite\":0.1429,\"chatglm_pro\":0.7143,\"chatglm_std\":0.3572,\"chatglm_turbo\":0.35"
    "72,\"claude-2.0\":4,\"claude-2.1\":4,\"claude-3-haiku-20240307\":0.125,\"claude-3-opus-20240229\":7.5,\"claude-3-sonnet"
    "-20240229\":1.5,\"claude-instant-1.2\":0.4,\"code-davinci-edit-001\":10,\"cogview-3\":17.75,\"command\":0.5,\"command-li"
    "ght\":0.5,\"command-light-nightly\":0.5,\"command-nightly\":0.5,\"command-r\":0.25,\"command-r-plus\":1.5,\"curie\":10,\"d"
    "all-e-2\":10,\"dall-e-3\":20,\"davinci\":10,\"davinci-002\":1,\"deepl-en\":12.5,\"deepl-ja\":12.5,\"deepl-zh\":12.5,\"deepse"
    "ek-chat\":0.071,\"deepseek-coder\":0.071,\"embedding-2\":0.0355,\"embedding-bert-512-v1\":0.0715,\"embedding_s1_v1\":0."
    "0715,\"gemini-1.0-pro-001\":1,\"gemini-1.0-pro-vision-001\":1,\"gemini-1.5-pro\":1,\"gemini-pro\":1,\"gemini-pro-vision"
    "\":1,\"gemma-7b-it\":0.05,\"glm-3-turbo\":0.355,\"glm-4\":7.1,\"glm-4v\":7.1,\"gpt-3.5-turbo\":0.25,\"gpt-3.5-turbo-0125\":"
    "0.25,\"gpt-3.5-turbo-0301\":0.75,\"gpt-3.5-turbo-0613\":0.75,\"gpt-3.5-turbo-1106\":0.5,\"gpt-3.5-turbo-16k\":1.5,\"gpt"
    "-3.5-turbo-16k-0613\":1.5,\"gpt-3.5-turbo-instruct\":0.75,\"gpt-4\":15,\"gpt-4-0125-preview\":5,\"gpt-4-0314\":15,\"gpt-"
    "4-0613\":15,\"gpt-4-1106-preview\":5,\"gpt-4-32k\":30,\"gpt-4-32k-0314\":30,\"gpt-4-32k-0613\":30,\"gpt-4-turbo\":5,\"gpt-"
    "4-turbo-2024-04-09\":5,\"gpt-4-turbo-preview\":5,\"gpt-4-vision-preview\":5,\"hunyuan\":7.143,\"llama2-70b-4096\":0.32,"
    "\"llama2-7b-2048\":0.05,\"llama3-70b-8192\":0.295,\"llama3-8b-8192\":0.025,\"mistral-embed\":0.05,\"mistral-large-lates"
    "t\":4,\"mistral-medium-latest\":1.35,\"mistral-small-latest\":1,\"mixtral-8x7b-32768\":0.135,\"moonshot-v1-128k\":4.26,"
    "\"moonshot-v1-32k\":1.704,\"moonshot-v1-8k\":0.852,\"open-mistral-7b\":0.125,\"open-mixtral-8x7b\":0.35,\"qwen-max\":1.4"
    "286,\"qwen-max-longcontext\":1.4286,\"qwen-plus\":1.4286,\"qwen-turbo\":0.5715,\"semantic_similarity_s1_v1\":0.0715,\"s"
    "tep-1-200k\":10.65,\"step-1-32k\":1.704,\"step-1v-32k\":1.704,\"tao-8k\":0.142,\"text-ada-001\":0.2,\"text-babbage-001\":"
    "0.25,\"text-curie-001\":1,\"text-davinci-002\":10,\"text-davinci-003\":10,\"text-davinci-edit-001\":10,\"text-embedding"
    "-3-large\":0.065,\"text-embedding-3-small\":0.01,\"text-embedding-ada-002\":0.05,\"text-embedding-v1\":0.05,\"text-mod"
    "eration-latest\":0.1,\"text-moderation-stable\":0.1,\"text-search-ada-doc-001\":10,\"tts-1\":7.5,\"tts-1-1106\":7.5,\"tt"
    "s-1-hd\":15,\"tts-1-hd-1106\":15,\"wanx-v1\":8,\"whisper-1\":15,\"yi-34b-chat-0205\":0.1775,\"yi-34b-chat-200k\":0.852,\"y"
    "i-vl-plus\":0.426}"
)
GROUP_RATIO_JSON = '{"default":1,"svip":1,"vip":1}'


def completion_ratio(name: str, overrides: dict) -> float:
    """relay/billing/ratio/model.go GetCompletionRatio (v0.6.6); ``overrides`` is the CompletionRatio option."""
    if name in overrides:
        return overrides[name]
    if name.startswith("gpt-3.5"):
        if name == "gpt-3.5-turbo" or name.endswith("0125"):
            return 3
        return 2 if name.endswith("1106") else 4.0 / 3.0
    if name.startswith("gpt-4"):
        return 3 if name.startswith("gpt-4-turbo") or name.endswith("preview") else 2
    for prefix, ratio in (("claude-3", 5), ("claude-", 3), ("mistral-", 3), ("gemini-", 3), ("deepseek-", 2)):
        if name.startswith(prefix):
            return ratio
    return {
        "llama2-70b-4096": 0.8 / 0.64,
        "llama3-8b-8192": 2,
        "llama3-70b-8192": 0.79 / 0.59,
        "command": 2,
        "command-light": 2,
        "command-nightly": 2,
        "command-light-nightly": 2,
        "command-r": 3,
        "command-r-plus": 5,
    }.get(name, 1)


def parse_ratio(text: str) -> tuple:
    """UpdateXRatioByJSONString: a new map, then json.Unmarshal; on a syntax error the map stays empty."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return {}, exc
    if not isinstance(value, dict):
        return {}, ValueError(f"json: cannot unmarshal {go_kind(value)} into Go value of type map[string]float64")
    ratios = {}
    for key, number in value.items():
        if number is None:
            continue
        if go_kind(number) != "number":
            return ratios, ValueError(f"json: cannot unmarshal {go_kind(number)} into Go value of type float64")
        ratios[key] = number
    return ratios, None


DEFAULT_OPTIONS = {
    "PasswordLoginEnabled": "true",
    "PasswordRegisterEnabled": "true",
    "EmailVerificationEnabled": "false",
    "GitHubOAuthEnabled": "false",
    "WeChatAuthEnabled": "false",
    "TurnstileCheckEnabled": "false",
    "RegisterEnabled": "true",
    "AutomaticDisableChannelEnabled": "false",
    "AutomaticEnableChannelEnabled": "false",
    "ApproximateTokenEnabled": "false",
    "LogConsumeEnabled": "true",
    "DisplayInCurrencyEnabled": "true",
    "DisplayTokenStatEnabled": "true",
    "ChannelDisableThreshold": "5",
    "EmailDomainRestrictionEnabled": "false",
    "EmailDomainWhitelist": "gmail.com,163.com,126.com,qq.com,outlook.com,hotmail.com,icloud.com,yahoo.com,foxmail.com",
    "SMTPServer": "",
    "SMTPFrom": "",
    "SMTPPort": "587",
    "SMTPAccount": "",
    "SMTPToken": "",
    "Notice": "",
    "About": "",
    "HomePageContent": "",
    "Footer": "",
    "SystemName": "One API",
    "Logo": "",
    "ServerAddress": "",
    "GitHubClientId": "",
    "GitHubClientSecret": "",
    "WeChatServerAddress": "",
    "WeChatServerToken": "",
    "WeChatAccountQRCodeImageURL": "",
    "MessagePusherAddress": "",
    "MessagePusherToken": "",
    "TurnstileSiteKey": "",
    "TurnstileSecretKey": "",
    "QuotaForNewUser": "0",
    "QuotaForInviter": "0",
    "QuotaForInvitee": "0",
    "QuotaRemindThreshold": "1000",
    "PreConsumedQuota": "500",
    "ModelRatio": MODEL_RATIO_JSON,
    "GroupRatio": GROUP_RATIO_JSON,
    "CompletionRatio": "{}",
    "TopUpLink": "",
    "ChatLink": "",
    "QuotaPerUnit": "500000",
    "RetryTimes": "0",
    "Theme": "default",
}
RATIO_OPTIONS = ("ModelRatio", "GroupRatio", "CompletionRatio")
