#!/bin/bash
# Writes docs/options.md from what the trainer prints: `trainer --help` and each sub-command's
# --help, verbatim. tests/integration/user_workflow.sh fails when the file differs from what
# the trainer under test prints, so the reference is never stale: run this after changing an option.
#   bash scripts/options-doc.sh [TRAINER [OUTPUT]]   (defaults: build/bin/trainer, docs/options.md)
set -euo pipefail
cd "$(dirname "$0")/.."
trainer=${1:-build/bin/trainer}
output=${2:-docs/options.md}
{
  echo "# Options"
  echo
  echo "Every option of every sub-command, as the trainer prints it (\`scripts/options-doc.sh\` writes"
  echo "this file from \`--help\`; a test checks that the two agree). Any option of \`train\` may also"
  echo "be given in an INI file (\`--config FILE\`, one \`name = value\` per line); \`--print-config\`"
  echo "prints the resolved options in that form."
  for sub in train eval inspect export info; do
    echo
    echo "## trainer $sub"
    echo
    echo '```'
    "$trainer" "$sub" --help
    echo '```'
  done
} >"$output"
echo "wrote $output from $trainer"
