# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab stand-in for one-api v0.6.6 (songquanpeng/one-api), Python standard library only.

Run ``python3 -m oneapi_standin [--port 3000] [--host 0.0.0.0] [--data-dir DIR] [--log-dir DIR]`` with this package's
parent directory on ``PYTHONPATH``. Modules: ``gojson`` (Go-compatible JSON binding and encoding), ``catalog`` (types,
models, ratios, default options), ``models`` (GORM models and their JSON), ``store`` (SQLite), ``security`` (rate
limits, session cookie, client address), ``config`` (flags, environment, fatal start-up steps), ``web`` (request
context, responses, routes), ``app`` (route table and middleware), ``users`` / ``channels`` / ``tokens`` (management
API), ``relay`` and ``adaptor`` (the /v1 relay and the OpenAI adaptor), ``upstream`` (outgoing HTTP with Go's
behaviour), ``server`` (HTTP server and main). See README.md next to this file.
"""
