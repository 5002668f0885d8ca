# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the PAI-EAS emulator: ``python3 -m eas_emulator [--port 8080] [--host 0.0.0.0] ...`` with tests/lab on the path.

Every option also has an ``EAS_EMULATOR_*`` environment variable (see README.md beside this file).
"""

from __future__ import annotations

import sys

from .server import main

if __name__ == '__main__':
    sys.exit(main())
