# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab stand-in for the chatgpt-web service (image ``chenzhaoyu94/chatgpt-web:v2.11.1``), standard library only.

Modules: ``settings`` (environment, budgets, proxy choice), ``tokens`` (cl100k_base counting) and ``ranks``
(obtaining its ranks file), ``history`` (message store, history trimming), ``proxy`` and ``upstream`` (fetch
through proxies, per-read decoding, the SSE parser), ``chat`` (sendMessage and TIMEOUT_MS), ``handler`` (the
Express routes and headers), ``server`` (process start-up). See README.md next to this file.
"""

from .server import build_server, main  # noqa: F401
