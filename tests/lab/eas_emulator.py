# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PAI-EAS (OpenAPI 2021-07-01) emulator for the llmops.eas_stack lab.

Speaks the ROA wire format that the real ``alibabacloud-eas20210701`` SDK sends (control plane), serves an
OpenAI-compatible, DeepSeek-R1-style endpoint per running service (data plane) and offers ``/_lab/*`` control
endpoints (request log, faults, reset, billing, health, config). Python standard library only.

Run: ``python3 tests/lab/eas_emulator.py --port 8080 [--host 0.0.0.0] [--region cn-hangzhou] [--public-url URL]
[--service-ready-seconds N] [--resource-ready-seconds N] [--gateway-warmup-seconds N]``; every option also has an
``EAS_EMULATOR_*`` environment variable. The code lives in the ``eas_emulator_lib`` package next to this file.
See docs/lab-eas-emulator.md.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from eas_emulator_lib.server import main  # noqa: E402  pylint: disable=wrong-import-position

if __name__ == '__main__':
    sys.exit(main())
