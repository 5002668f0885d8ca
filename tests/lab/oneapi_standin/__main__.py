# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""python3 -m oneapi_standin"""

import sys

from .server import main

sys.exit(main())
