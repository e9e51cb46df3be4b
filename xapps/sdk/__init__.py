"""The xApp SDK: write one `XApp` subclass; `XappRunner` does connection, subscription, timing."""

from xapps.sdk.app import ModelFile, Stamps, XApp
from xapps.sdk.runner import XappRunner

__all__ = ["ModelFile", "Stamps", "XApp", "XappRunner"]
