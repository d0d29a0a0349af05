"""AnyViz's Python runtime: the code the Swift kernel runs inside its embedded CPython."""
