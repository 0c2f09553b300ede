"""Code shared by every handler in this CodeUri folder.

The folder is packaged once per function (``sam build`` copies it into each
function's artifact; the sandbox zips it per function), so each deployed function
carries its own copy of this package.
"""
