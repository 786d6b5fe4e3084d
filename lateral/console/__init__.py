"""The ``lateral`` command and its subcommands (``lateral prepare``, ``lateral train``, ...).

Each module here parses its flags and checks what it can (flags, config,
paths) before it imports the pipeline, so a mistake is answered in a fraction
of a second instead of after TensorFlow's start-up.
"""
