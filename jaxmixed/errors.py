"""One error hierarchy for everything a user can get wrong.

Every message names the column, option or value at fault, so that a user
reading it at the console knows what to change without reading a traceback.
"""


class JaxMixedError(Exception):
    """Base class of every error jaxmixed raises on purpose."""


class SpecificationError(JaxMixedError, ValueError):
    """The model specification is invalid (formula, statement, option)."""


class FormulaError(SpecificationError):
    """A formula could not be parsed; the message marks the bad token."""


class DataError(JaxMixedError, ValueError):
    """The data cannot support the model (missing column, wrong type, ...)."""


class UnsupportedOptionError(JaxMixedError, NotImplementedError):
    """A recognised PROC MIXED option that this version does not implement."""


class SavedResultError(JaxMixedError):
    """A saved result cannot be read, or holds too little for what was asked of it."""
