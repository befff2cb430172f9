"""python3 -m comparison (what bench/compare runs)."""
from .main import main

main()
