// Beam search over Model::step: K beam rows and one greedy row stepped together as K + 1
// streams; after each step the K most likely extensions of the live rows are kept and the rows'
// recurrent states are gathered from their parents. See beam_search.hpp.
#include "charnn/beam_search.hpp"

#include "stream_priming.hpp"

#include <charnn/error.hpp>
#include <charnn/vocab.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace charnn {

namespace {

// log-softmax of one row of logits into out.
void log_softmax(const float* logits, std::int64_t V, std::vector<double>& out) {
  double max = -std::numeric_limits<double>::infinity();
  for (std::int64_t v = 0; v < V; ++v) max = std::max(max, static_cast<double>(logits[v]));
  double sum = 0;
  for (std::int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(logits[v]) - max);
  const double lse = max + std::log(sum);
  out.resize(static_cast<std::size_t>(V));
  for (std::int64_t v = 0; v < V; ++v)
    out[static_cast<std::size_t>(v)] = static_cast<double>(logits[v]) - lse;
  if (!std::isfinite(lse)) throw error("the model's scores are not finite (a damaged model?)");
}

struct Candidate {
  double logp;
  std::int64_t parent;  // beam row it extends
  std::int32_t id;
};

// Best first; ties to the lower row, then to the lower id (greedy takes the first maximum).
bool better(const Candidate& a, const Candidate& b) {
  if (a.logp != b.logp) return a.logp > b.logp;
  if (a.parent != b.parent) return a.parent < b.parent;
  return a.id < b.id;
}

// One step of one hypothesis, to walk back from the end.
struct Link {
  std::int64_t parent = -1;  // row at the step before (-1: the seed)
  std::int32_t id = 0;
};

// A complete hypothesis: its score, and where its last unit hangs in the history.
struct Finished {
  double score = -std::numeric_limits<double>::infinity();
  double logp = 0;
  std::int64_t step = -1, parent = -1;  // the step of its last unit, and the row it extended
  std::int32_t id = 0;
  bool stopped = false;
};

bool ends_with_stop(const std::string& tail, const std::string& stop) {
  return !stop.empty() && tail.size() >= stop.size() &&
         tail.compare(tail.size() - stop.size(), stop.size(), stop) == 0;
}

// Whether seq followed by id ends with an n-unit sequence that already occurs in seq.
bool repeats(const std::vector<std::int32_t>& seq, std::int32_t id, std::int64_t n) {
  const auto L = static_cast<std::int64_t>(seq.size());
  if (n <= 0 || L < n) return false;  // an earlier n-gram and the new one need n + 1 units
  const auto at = [&](std::int64_t j) { return seq[static_cast<std::size_t>(j)]; };
  for (std::int64_t i = n - 2; i < L - 1; ++i) {  // seq[i - n + 2 .. i] then seq[i + 1]
    if (at(i + 1) != id) continue;
    std::int64_t k = 0;
    while (k < n - 1 && at(i - k) == at(L - 1 - k)) ++k;
    if (k == n - 1) return true;
  }
  return false;
}

// The last bytes of text that a stop string check needs.
void keep_tail(std::string& tail, std::size_t stop_size) {
  if (tail.size() > 2 * stop_size + 16) tail.erase(0, tail.size() - stop_size - 8);
}

}  // namespace

BeamResult beam_search(Model& model, const Vocab& vocab, const PreparedSeed& seed,
                       const BeamOptions& options) {
  if (options.width < 1)
    throw error("--beam " + std::to_string(options.width) + " is not allowed",
                "use a beam of at least 1 (1 is greedy decoding)", 2);
  if (options.length < 0)
    throw error("--length " + std::to_string(options.length) + " is not allowed",
                "ask for 0 or more units", 2);
  if (!std::isfinite(options.length_penalty) || options.length_penalty < 0)
    throw error("--length-penalty must be a number >= 0",
                "0 compares total likelihoods, 1 the likelihood per unit", 2);
  if (options.no_repeat < 0 || options.no_repeat == 1)
    throw error("--no-repeat " + std::to_string(options.no_repeat) + " is not allowed",
                "0 (off), or a length of 2 or more units", 2);
  detail::check_vocab_fits(model, vocab);
  BeamResult result;
  if (options.length == 0) return result;
  if (options.precision) prepare_step_path(model, *options.precision);

  const std::int64_t K = options.width, N = K + 1, G = K;  // row G: the greedy line
  const std::int64_t V = model.vocab_size(), H = model.hidden();
  const std::vector<std::int32_t> fallback{empty_seed_unit(vocab)};
  const std::vector<std::int32_t>& prime = seed.ids.empty() ? fallback : seed.ids;

  std::vector<float> logits(static_cast<std::size_t>(N * V));
  Model::State state = detail::prime_streams(model, prime, N, false, 1, logits.data());
  Model::State previous = state;  // the rows before a step's reordering

  std::vector<std::int32_t> ids(static_cast<std::size_t>(N), prime.back());
  std::vector<double> logp(static_cast<std::size_t>(K), 0.0), row_lp;
  std::vector<std::string> tails(static_cast<std::size_t>(K)), new_tails(tails.size());
  // With --no-repeat, each row's units so far (reordered with the rows, like the tails).
  const std::int64_t no_repeat = options.no_repeat;
  std::vector<std::vector<std::int32_t>> seqs(static_cast<std::size_t>(no_repeat > 0 ? K : 0)),
      new_seqs(seqs.size());
  std::vector<std::vector<Link>> history;  // history[t][row]
  history.reserve(static_cast<std::size_t>(options.length));
  std::vector<Candidate> candidates;
  std::vector<std::int32_t> order(static_cast<std::size_t>(V));
  std::int64_t live = 1;  // rows 0..live-1 hold distinct hypotheses (all equal at the start)
  Finished best;
  const double alpha = options.length_penalty;
  const auto score = [&](double lp, std::int64_t units) {
    return lp / std::pow(static_cast<double>(units), alpha);
  };

  // The greedy line: its units, log p and whether the stop string ended it.
  std::vector<std::int32_t> greedy_ids;
  double greedy_lp = 0;
  std::string greedy_tail;
  bool greedy_done = false, greedy_stopped = false;

  for (std::int64_t t = 0; t < options.length && (live > 0 || !greedy_done); ++t) {
    model.step(ids, state, logits.data());
    if (!greedy_done) {
      const float* row = logits.data() + G * V;
      log_softmax(row, V, row_lp);
      auto arg = static_cast<std::int32_t>(std::max_element(row, row + V) - row);
      if (repeats(greedy_ids, arg, no_repeat)) {  // the most likely unit that repeats nothing
        double top = -std::numeric_limits<double>::infinity();
        for (std::int32_t v = 0; v < V; ++v)
          if (row_lp[static_cast<std::size_t>(v)] > top && !repeats(greedy_ids, v, no_repeat)) {
            top = row_lp[static_cast<std::size_t>(v)];
            arg = v;
          }
      }
      greedy_lp += row_lp[static_cast<std::size_t>(arg)];
      greedy_ids.push_back(arg);
      greedy_tail += vocab.unit(arg);
      keep_tail(greedy_tail, options.stop.size());
      ids[static_cast<std::size_t>(G)] = arg;
      greedy_stopped = ends_with_stop(greedy_tail, options.stop);
      greedy_done = greedy_stopped;
    }
    if (live == 0) continue;

    // Each live row's K best extensions, then the K best of all.
    candidates.clear();
    for (std::int64_t r = 0; r < live; ++r) {
      log_softmax(logits.data() + r * V, V, row_lp);
      std::iota(order.begin(), order.end(), 0);
      const auto by_logp = [&](std::int32_t a, std::int32_t b) {
        const double la = row_lp[static_cast<std::size_t>(a)];
        const double lb = row_lp[static_cast<std::size_t>(b)];
        return la != lb ? la > lb : a < b;
      };
      // The row's K best extensions that repeat nothing: sorted as far as needed (units that
      // --no-repeat forbids are skipped, so a few more may have to be looked at).
      std::int64_t sorted = 0, taken = 0;
      for (std::int64_t j = 0; j < V && taken < K; ++j) {
        if (j == sorted) {
          const std::int64_t upto = std::min<std::int64_t>(V, std::max<std::int64_t>(2 * K, 2 * j));
          std::partial_sort(order.begin() + j, order.begin() + upto, order.end(), by_logp);
          sorted = upto;
        }
        const std::int32_t id = order[static_cast<std::size_t>(j)];
        if (no_repeat > 0 && repeats(seqs[static_cast<std::size_t>(r)], id, no_repeat)) continue;
        candidates.push_back(
            {logp[static_cast<std::size_t>(r)] + row_lp[static_cast<std::size_t>(id)], r, id});
        ++taken;
      }
    }
    const auto chosen = std::min<std::int64_t>(K, static_cast<std::int64_t>(candidates.size()));
    std::partial_sort(candidates.begin(), candidates.begin() + chosen, candidates.end(), better);

    // Complete hypotheses leave the beam; the rest become the next rows.
    const bool last = t + 1 == options.length;
    std::vector<Link> links;
    std::int64_t next = 0;
    for (std::int64_t c = 0; c < chosen; ++c) {
      const Candidate& cand = candidates[static_cast<std::size_t>(c)];
      std::string tail = tails[static_cast<std::size_t>(cand.parent)] + vocab.unit(cand.id);
      keep_tail(tail, options.stop.size());
      const bool stopped = ends_with_stop(tail, options.stop);
      if (stopped || last) {
        const double s = score(cand.logp, t + 1);
        if (s > best.score)
          best = {s, cand.logp, t, cand.parent, cand.id, stopped};
        continue;
      }
      links.push_back({cand.parent, cand.id});
      if (no_repeat > 0) {
        new_seqs[static_cast<std::size_t>(next)] = seqs[static_cast<std::size_t>(cand.parent)];
        new_seqs[static_cast<std::size_t>(next)].push_back(cand.id);
      }
      new_tails[static_cast<std::size_t>(next)] = std::move(tail);
      logp[static_cast<std::size_t>(next)] = cand.logp;
      ids[static_cast<std::size_t>(next)] = cand.id;
      ++next;
    }
    history.push_back(links);
    // Gather every new row's state from its parent row (the greedy row keeps its own).
    for (std::size_t l = 0; l < state.layers.size(); ++l) previous.layers[l] = state.layers[l];
    for (std::size_t l = 0; l < state.layers.size(); ++l) {
      const std::int64_t S = static_cast<std::int64_t>(state.layers[l].size()) / (N * H);
      for (std::int64_t s = 0; s < S; ++s)
        for (std::int64_t j = 0; j < next; ++j)
          std::copy_n(previous.layers[l].begin() +
                          (s * N + links[static_cast<std::size_t>(j)].parent) * H,
                      H, state.layers[l].begin() + (s * N + j) * H);
    }
    std::swap(tails, new_tails);
    std::swap(seqs, new_seqs);
    // A complete hypothesis already scores above anything the live rows can reach when the
    // score is a total (penalty 0): each further unit only lowers log p.
    live = alpha == 0 && next > 0 && best.step >= 0 && logp[0] <= best.logp ? 0 : next;
  }

  const std::int64_t greedy_units = static_cast<std::int64_t>(greedy_ids.size());
  if (greedy_units > 0 && score(greedy_lp, greedy_units) > best.score) {
    result.ids = greedy_ids;
    result.nats = -greedy_lp;
    result.stopped = greedy_stopped;
    result.from_greedy = true;
  } else {
    result.ids.resize(static_cast<std::size_t>(best.step + 1));
    result.ids[static_cast<std::size_t>(best.step)] = best.id;
    std::int64_t row = best.parent;
    for (std::int64_t t = best.step - 1; t >= 0; --t) {
      const Link& link = history[static_cast<std::size_t>(t)][static_cast<std::size_t>(row)];
      result.ids[static_cast<std::size_t>(t)] = link.id;
      row = link.parent;
    }
    result.nats = -best.logp;
    result.stopped = best.stopped;
  }
  for (const std::int32_t id : result.ids) result.text += vocab.unit(id);
  return result;
}

}  // namespace charnn
