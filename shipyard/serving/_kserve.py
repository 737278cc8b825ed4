"""Imports kserve without letting it read our command line.

``kserve.model_server`` parses ``sys.argv`` with its own argparse parser at import time
(``parser.parse_known_args()``), so ``shipyard serve --port …`` could be read as kserve's options.
Everything in shipyard that needs kserve imports it through this module.
"""

from __future__ import annotations

import sys

_argv = sys.argv
sys.argv = _argv[:1]
try:
    import kserve
    from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
    from kserve.errors import InvalidInput, ModelNotReady
    from kserve.logging import KSERVE_LOG_CONFIG, configure_logging
    from kserve.protocol.dataplane import DataPlane
    from kserve.protocol.rest.server import RESTServer
finally:
    sys.argv = _argv

__all__ = [
    "FASTAPI_APP_IMPORT_STRING",
    "KSERVE_LOG_CONFIG",
    "DataPlane",
    "InvalidInput",
    "ModelNotReady",
    "RESTServer",
    "configure_logging",
    "kserve",
]
