# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Connection options of every one-api module, and the one-api action group."""

    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of one-api, without a path, for example V(http://127.0.0.1:5001).
      - If not set, the environment variable E(ONEAPI_URL) is used.
    type: str
    required: true
  username:
    description:
      - The management user. Root (or an admin) is needed for channels and options.
      - If not set, the environment variable E(ONEAPI_USERNAME) is used, then V(root).
    type: str
    default: root
  password:
    description:
      - The password of O(username). The module logs in once per run (one-api allows 20 logins per
        20 minutes per client IP) and keeps the C(session) cookie for the rest of the run.
      - If not set, the environment variable E(ONEAPI_PASSWORD) is used.
      - Either O(password) or O(access_token) is needed.
    type: str
  access_token:
    description:
      - A one-api system access token of O(username) (the C(access_token) of the user, not an C(sk-) relay key),
        sent as the C(Authorization) header instead of logging in. Saves a login per module run.
      - Never obtain it with C(GET /api/user/token), which makes a new token on every call;
        M(llmops.eas_stack.oneapi_root_password) returns the current one.
      - If not set, the environment variable E(ONEAPI_ACCESS_TOKEN) is used. Ignored when empty.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate when O(url) uses HTTPS.
    type: bool
    default: true
  timeout:
    description:
      - Timeout of each HTTP request, in seconds.
    type: int
    default: 30
notes:
  - Written against one-api v0.6.6 (C(justsong/one-api:v0.6.6)). Every management answer is checked for
    C(success=true), because one-api answers most failures with HTTP 200.
  - On HTTP 429 the module fails at once with how long to wait; it never retries a login.
  - Requests go straight to O(url); proxy settings from the environment are not used (one-api is normally
    reached on the loopback address of the host it runs on).
  - Redirects are not followed; one-api's collection routes are called with their trailing slash.
"""

    ACTIONGROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/llmops.eas_stack.oneapi) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - llmops.eas_stack.oneapi
"""
