# Sourced by the scripts in .ci/: one cargo target directory outside the clone, so CI runs and
# later clones reuse each other's builds.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/keystile/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
