"""Run in a box by ``isolation.check_box``: what the code in it can read, reach and be (printed as JSON)."""
import json
import os
import socket
import sys


def inspect_box(secret_paths: list, port: int) -> dict:
    """Which of ``secret_paths`` can be listed or read, whether the grader's loopback port answers,
    whether an internet socket can be made, and the uid the code runs as."""
    readable = {}
    for path in secret_paths:
        try:
            if os.path.isdir(path):
                os.listdir(path)
            else:
                open(path, "rb").close()
            readable[path] = True
        except OSError:
            readable[path] = False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            reached = True
    except OSError:
        reached = False
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        internet_socket = True
    except OSError:
        internet_socket = False
    return {"readable": readable, "reached_grader_port": reached, "internet_socket": internet_socket,
            "uid": os.getuid()}


if __name__ == "__main__":
    print(json.dumps(inspect_box(*json.loads(sys.argv[1]))), flush=True)
