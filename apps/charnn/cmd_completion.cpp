// charnn completion bash: a bash completion script. It asks `charnn CMD --help` for the options
// when TAB is pressed, so it completes exactly the flags (and the listed choices of a value,
// such as --progress auto|live|plain|quiet|json) that this charnn declares, with no second list
// to keep in step.
#include <charnn/error.hpp>

#include <iostream>
#include <string>
#include <vector>

#include "command.hpp"

namespace charnn::app {

namespace {

// The script; @COMMANDS@ becomes the subcommands' names.
constexpr const char* kBash = R"BASH(# bash completion for charnn. Load it with:
#   source <(charnn completion bash)
# or install it: charnn completion bash > ~/.local/share/bash-completion/completions/charnn
_charnn() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local commands="@COMMANDS@"
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "$commands help --help --version" -- "$cur"))
    return
  fi
  local cmd=${COMP_WORDS[1]}
  if [ "$cmd" = help ]; then
    [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    return
  fi
  local help
  help=$("${COMP_WORDS[0]}" "$cmd" --help 2>/dev/null) || return
  # After an option that takes a value: its listed choices (lower-case words of "a|b|c"), or
  # file names for FILE, DIR and the like; other values (N, RATE) are the user's to type.
  if [[ $prev == -* ]]; then
    local line value
    line=$(grep -E -- "^ +(-[[:alnum:]] \[ )?${prev}( |\]|$)|\[ ${prev} \]" <<< "$help" | head -1)
    if [ -n "$line" ]; then
      value=$(sed -E 's/^ +(-[[:alnum:]] \[ --[^ ]+ \]|--[^ ]+) ?//; s/ .*//' <<< "$line")
      if [ -n "$value" ] && [[ $value != "(="* ]]; then
        local choices
        choices=$(tr '|' '\n' <<< "$value" | grep -E '^[a-z][a-z0-9-]*$' | tr '\n' ' ')
        if [ -n "$choices" ]; then
          COMPREPLY=($(compgen -W "$choices" -- "$cur"))
        elif [[ $value =~ FILE|DIR ]]; then
          COMPREPLY=($(compgen -f -- "$cur"))
        fi
        return
      fi
    fi
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(grep -oE -- '--[[:alnum:]][[:alnum:]-]*' <<< "$help" | sort -u)" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -o bashdefault -F _charnn charnn
)BASH";

}  // namespace

int run_completion(const std::vector<std::string>& args) {
  std::vector<std::string> shells;
  po::options_description desc("Options");
  po::options_description hidden;
  po::positional_options_description pos;
  add_file_arguments(hidden, pos, shells);
  const CommandHelp help{
      "completion", "charnn completion bash",
      "Prints a bash completion script for charnn: TAB completes the commands, each command's "
      "options, the listed choices of an option's value (--progress, --units, --unknown...) and "
      "file names. It asks 'charnn CMD --help' when TAB is pressed, so it always matches the "
      "installed charnn. Load it in the current shell with: source <(charnn completion bash).",
      "charnn completion bash > ~/.local/share/bash-completion/completions/charnn"};
  po::variables_map vm;
  if (!parse_options(help, desc, hidden, pos, args, vm)) return 0;
  if (shells.size() != 1 || shells[0] != "bash")
    throw error(shells.empty() ? std::string("no shell given")
                               : "no completion for '" + shells[0] + "'",
                "usage: charnn completion bash (bash is the one shell supported)", 2);
  std::string names;
  for (const auto& n : command_names()) names += (names.empty() ? "" : " ") + n;
  std::string script = kBash;
  script.replace(script.find("@COMMANDS@"), 10, names);
  std::cout << script;
  return 0;
}

}  // namespace charnn::app
