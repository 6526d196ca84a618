#!/usr/bin/python3
"""Validates SARIF logs against the SARIF 2.1.0 schema shipped beside this file.

Usage: validate_sarif.py LOG.sarif [LOG.sarif ...]
Exit 0 when every log is valid; 1 with one line per error otherwise; 2 when
the jsonschema package (Debian: python3-jsonschema) or a file is missing.
"""
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    print("validate_sarif: the jsonschema module is missing (apt-get install python3-jsonschema)", file=sys.stderr)
    sys.exit(2)

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sarif-schema-2.1.0.json")


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    # The draft the schema names ($schema: 2020-12). The schema is not run
    # through check_schema: upstream's region definition lists an anyOf
    # inside "properties" (a known slip of the official file), which the
    # meta-schema rejects but which does not affect validating a log.
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    bad = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                log = json.load(f)
        except (OSError, ValueError) as e:
            print(f"{path}: cannot read a JSON document: {e}")
            return 2
        for error in sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            print(f"{path}: {where}: {error.message}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
