"""The registered datasets, one module each; importing the package is not needed, the registry finds them."""
