#!/usr/bin/env python3
"""forge.py - the forging and survey of tests/corpus/api-fastapi/forge.py
with the Django REST framework app's preset (JSON login at /api/token/,
simplejwt's "access"/"refresh" and its user_id claim): how
tests/data/truth/api-drf.txt and api-drf-flaws.txt were established,
independently of authprobe.

    forge.py tokens TOKEN --claim user_id [--other-user 2]
    forge.py survey --url URL [--dep-pid PID] [--lifetime S] [--only ID,...]
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api-fastapi"))
import forge  # noqa: E402  the shared forging and survey

if __name__ == "__main__":
    sys.exit(forge.main(preset="drf"))
