// The training option rows for the text and the corpus: how the corpus is read and split into
// units, shared with 'charnn vocab' (table_options.hpp), and the corpus files themselves. See
// train_options.cpp for the other rows and train_config.hpp for what each column means.
#include "charnn/train_config.hpp"
#include "option_values.hpp"
#include "train_option_rows.hpp"
#include "util.hpp"

#include <string>
#include <vector>

namespace charnn::detail {

using namespace option_values;

namespace {

using G = TrainOptionGroup;
using K = TrainValueKind;

const TrainOption kTextOptions[] = {
    // Text (as in 'charnn vocab')
    {.flag = "units",
     .key = "units",
     .group = G::text,
     .value_name = "grapheme|codepoint|byte",
     .help = "what one unit is: grapheme (a user-perceived character, ICU extended grapheme "
             "cluster), codepoint, or byte",
     .get = [](const TrainConfig& c) { return to_string(c.text.units); },
     .set = [](TrainConfig& c, const std::string& s) { c.text.units = parse_unit_kind(s); }},
    {.flag = "normalize",
     .key = "normalize",
     .group = G::text,
     .value_name = "nfc|none",
     .help = "Unicode normalisation: nfc (compose e + U+0301 into é) or none",
     .get = [](const TrainConfig& c) { return to_string(c.text.normalize); },
     .set = [](TrainConfig& c,
               const std::string& s) { c.text.normalize = parse_normalization(s); }},
    {.flag = "on-invalid",
     .key = "on_invalid",
     .group = G::text,
     .value_name = "error|replace",
     .help = "invalid UTF-8: error (stop and say where) or replace (with U+FFFD)",
     .get = [](const TrainConfig& c) { return to_string(c.text.on_invalid); },
     .set = [](TrainConfig& c, const std::string& s) { c.text.on_invalid = parse_on_invalid(s); }},
    {.flag = "keep-cr",
     .key = "newlines",
     .group = G::text,
     .kind = K::switch_,
     .help = "keep CR and CRLF line ends instead of turning them into LF",
     .get =
         [](const TrainConfig& c) {
           return std::string(c.text.normalize_newlines ? "lf" : "keep");
         },
     .set = [](TrainConfig& c, const std::string& s) { c.text.normalize_newlines = s == "lf"; },
     .set_from_cli = [](TrainConfig& c, const std::string&) { c.text.normalize_newlines = false; }},
    {.flag = "min-count",
     .key = "min_count",
     .group = G::text,
     .kind = K::integer,
     .value_name = "N",
     .help = "units seen fewer times map to one unknown symbol",
     CHARNN_INTEGER(vocab.min_count)},
    {.flag = "max-vocab",
     .key = "max_vocab",
     .group = G::text,
     .kind = K::integer,
     .value_name = "N",
     .help = "keep at most this many ids, unknown symbol included (0 = no limit)",
     CHARNN_INTEGER(vocab.max_vocab)},
    {.flag = "split",
     .key = "split",
     .group = G::text,
     .value_name = "TRAIN,VALID,TEST",
     .help = "train,valid,test fractions of the corpus (contiguous, in this order)",
     .get =
         [](const TrainConfig& c) {
           return real_text(c.split.train) + "," + real_text(c.split.valid) + "," +
                  real_text(c.split.test);
         },
     .set = [](TrainConfig& c, const std::string& s) { c.split = parse_split(s); }},

    // The corpus files, the command's positional arguments.
    {.flag = "file",
     .key = "corpus",
     .group = G::positional,
     .help = "corpus files",
     .resumable = true,  // the files may move; the fingerprint checks they hold the same text
     .get =
         [](const TrainConfig& c) {
           std::vector<std::string> files;
           for (const auto& f : c.corpus) files.push_back(f.string());
           return detail::join(files, "\n");
         },
     .set =
         [](TrainConfig& c, const std::string& s) {
           c.corpus.clear();
           for (const auto& f : detail::split_string(s, '\n'))
             if (!f.empty()) c.corpus.emplace_back(f);
         },
     .set_from_cli = [](TrainConfig& c, const std::string& s) { c.corpus.emplace_back(s); },
     .check = [](const TrainConfig& c, const std::string&) -> TrainOptionProblem {
       if (c.corpus.empty()) return {"no corpus given", "usage: charnn train corpus.txt"};
       return {};
     }},
};

}  // namespace

std::span<const TrainOption> text_option_rows() {
  return kTextOptions;
}

}  // namespace charnn::detail
