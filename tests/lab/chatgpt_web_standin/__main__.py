# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``python3 -m chatgpt_web_standin [--host H] [--port P] [--access-log]`` (tests/lab on the path)."""

import sys

from .server import main

sys.exit(main())
