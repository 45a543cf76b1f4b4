#!/bin/sh
# prebuildify calls this in place of node-gyp (its --node-gyp option); node-gyp's arguments are ignored
# and cmake-js does the full build into build/Release, which prebuildify then copies to prebuilds/.
set -e
cd "$(dirname "$0")/.."
exec npx --no-install cmake-js rebuild
