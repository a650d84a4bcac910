# run once when the environment is built, in the pack's venv, with the pack folder as working directory
import os
import sys

with open("installed.txt", "w") as f:
    f.write(sys.prefix)
print("with_install: wrote", os.path.abspath("installed.txt"))
