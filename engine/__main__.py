"""`python -m partnerdx`: the same command line as the `partnerdx` script."""
from .cli import main

main()
