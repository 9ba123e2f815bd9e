"""`flashctl init`: a working project in one command (flash.yaml, handlers, their test, CI and
pre-commit). `files` decides what to write (pure); `command` checks for existing files and writes.
"""
