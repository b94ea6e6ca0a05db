#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "fedhpc/cli/components.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/model/scenario.hpp"
#include "test_support.hpp"

using namespace fedhpc;

namespace {

std::string error_of(const std::vector<std::string>& args) {
  try {
    auto parsed = parse_run_options(args);
    validate(parsed.options);
    model::resolve_scenario(scenario_options(parsed.options));
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// Parsing, validation and scenario resolution must fail with one line
// holding every needle.
void bad(const std::vector<std::string>& args, const std::vector<std::string>& needles) {
  SCOPED_TRACE(testing::PrintToString(args));
  test::expect_input_error(
      [&] {
        auto parsed = parse_run_options(args);
        validate(parsed.options);
        model::resolve_scenario(scenario_options(parsed.options));
      },
      needles);
}

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace

TEST(Options, DefaultsAndOverrides) {
  auto p = parse_run_options({"--clients", "7", "--lr", "0.5", "--overwrite"});
  EXPECT_EQ(p.options.clients, 7);
  EXPECT_DOUBLE_EQ(p.options.lr, 0.5);
  EXPECT_TRUE(p.options.overwrite);
  EXPECT_EQ(p.options.model, "seed-cnn");
  EXPECT_EQ(p.options.batch_size, 16);
}

TEST(Options, ConfigFileIsOverriddenByCommandLine) {
  const std::string path = testing::TempDir() + "fedhpc_options.ini";
  std::ofstream(path) << "clients = 12\nrounds = 3\nmodel = mlp\n";
  auto p = parse_run_options({"--config", path, "--rounds", "9"});
  EXPECT_EQ(p.options.clients, 12);
  EXPECT_EQ(p.options.rounds, 9);
  EXPECT_EQ(p.options.model, "mlp");
}

TEST(Options, IniDumpRoundTrips) {
  auto p = parse_run_options({"--clients", "3", "--dirichlet-alpha", "0.123456789", "--quiet"});
  const std::string path = testing::TempDir() + "fedhpc_roundtrip.ini";
  std::ofstream(path) << to_ini(p.options);
  auto q = parse_run_options({"--config", path});
  EXPECT_EQ(to_ini(q.options), to_ini(p.options));
  EXPECT_DOUBLE_EQ(q.options.dirichlet_alpha, 0.123456789);
  EXPECT_TRUE(q.options.quiet);
}

// Every topology's dump together names every option.
TEST(Options, ClusterThresholdAutoParsesDumpsAndRoundTrips) {
  auto p = parse_run_options({"--topology", "clustered", "--cluster-threshold", "auto"});
  EXPECT_EQ(p.options.cluster_threshold, topology::kAutoClusterThreshold);
  validate(p.options);
  const auto ini = to_ini(p.options);
  EXPECT_NE(ini.find("cluster-threshold = auto\n"), std::string::npos) << ini;
  const std::string path = ::testing::TempDir() + "auto-threshold.ini";
  std::ofstream(path) << ini;
  auto q = parse_run_options({"--config", path});
  EXPECT_EQ(q.options.cluster_threshold, topology::kAutoClusterThreshold);
  EXPECT_EQ(to_ini(q.options), ini);
  // The number the marker is stored as is not a way to say auto.
  const auto negative = error_of({"--topology", "clustered", "--cluster-threshold", "-1"});
  EXPECT_NE(negative.find("--cluster-threshold"), std::string::npos) << negative;
  EXPECT_NE(negative.find("or auto"), std::string::npos) << negative;
  const auto word = error_of({"--topology", "clustered", "--cluster-threshold", "automatic"});
  EXPECT_NE(word.find("--cluster-threshold: expected"), std::string::npos) << word;
  EXPECT_NE(word.find("or auto"), std::string::npos) << word;
}

TEST(Options, HelpListsEveryOptionWithDefault) {
  auto p = parse_run_options({"--help"});
  ASSERT_TRUE(p.help);
  for (const std::string topology : {"centralized", "hierarchical", "ring", "clustered", "gossip"}) {
    RunOptions o;
    o.topology = topology;
    std::istringstream ini(to_ini(o));
    std::string line;
    while (std::getline(ini, line)) {
      if (line.empty() || line[0] == '#' || line == "[run]") continue;
      const std::string key = line.substr(0, line.find(' '));
      const auto at = p.help_text.find("--" + key + " ");
      ASSERT_NE(at, std::string::npos) << key;
      const auto line_end = p.help_text.find('\n', at);
      EXPECT_NE(p.help_text.substr(at, line_end - at).find("(="), std::string::npos) << key;
    }
  }
}

TEST(Options, BadInputNamesTheOption) {
  EXPECT_NE(error_of({"--bogus", "1"}).find("--bogus"), std::string::npos);
  EXPECT_NE(error_of({"--lr", "abc"}).find("--lr"), std::string::npos);
  EXPECT_NE(error_of({"--participation", "1.5"}).find("--participation"), std::string::npos);
  EXPECT_NE(error_of({"--participation", "0"}).find("--participation"), std::string::npos);
  EXPECT_NE(error_of({"--local-test-fraction", "1"}).find("--local-test-fraction"), std::string::npos);
  EXPECT_NE(error_of({"--optimizer", "rmsprop"}).find("--optimizer"), std::string::npos);
  EXPECT_NE(error_of({"--scenario", "wild"}).find("--scenario"), std::string::npos);
  EXPECT_NE(error_of({"--conv-init", "uniform:3:1"}).find("--conv-init"), std::string::npos);
  EXPECT_NE(error_of({"--clip-norm", "-1"}).find("--clip-norm"), std::string::npos);
  EXPECT_NE(error_of({"--save-weights", "all"}).find("--save-weights"), std::string::npos);
  EXPECT_NE(error_of({"--config", "/nonexistent.ini"}).find("--config"), std::string::npos);
  EXPECT_EQ(error_of({"--clients", "5"}), "");
}

TEST(Scenario, DefaultsFollowThePaperAndExplicitOptionsWin) {
  RunOptions o;
  o.scenario = "exploding";
  auto s = model::resolve_scenario(scenario_options(o));
  EXPECT_EQ(s.activation, model::Activation::Relu);
  EXPECT_FALSE(s.conv_init.glorot);
  EXPECT_EQ(s.conv_init.low, 8.0);
  EXPECT_EQ(s.conv_init.high, 10.0);
  EXPECT_EQ(s.clip_norm, 0.0);
  o.scenario = "vanishing";
  s = model::resolve_scenario(scenario_options(o));
  EXPECT_EQ(s.activation, model::Activation::Tanh);
  EXPECT_EQ(s.conv_init.low, 4.0);
  o.scenario = "baseline";
  s = model::resolve_scenario(scenario_options(o));
  EXPECT_EQ(s.activation, model::Activation::LeakyRelu);
  EXPECT_TRUE(s.conv_init.glorot);
  EXPECT_EQ(s.clip_norm, 1.0);
  o.clip_norm = "0";
  EXPECT_EQ(model::resolve_scenario(scenario_options(o)).clip_norm, 0.0);
}

TEST(Scenario, ConvBiasesFollowTheConvInitUnlessZero) {
  RunOptions o;
  o.scenario = "vanishing";
  EXPECT_TRUE(model::resolve_scenario(scenario_options(o)).conv_init.bias);
  o.scenario = "exploding";
  EXPECT_TRUE(model::resolve_scenario(scenario_options(o)).conv_init.bias);
  o.conv_bias_init = "zero";
  EXPECT_FALSE(model::resolve_scenario(scenario_options(o)).conv_init.bias);
  o.scenario = "baseline";
  o.conv_bias_init = "scenario";
  EXPECT_FALSE(model::resolve_scenario(scenario_options(o)).conv_init.bias);
  o.conv_init = "uniform:1:2";
  EXPECT_FALSE(model::resolve_scenario(scenario_options(o)).conv_init.bias);
  o.conv_bias_init = "uniform";
  EXPECT_TRUE(model::resolve_scenario(scenario_options(o)).conv_init.bias);
  o.scenario = "vanishing";
  o.conv_init = "glorot";
  o.conv_bias_init = "scenario";
  EXPECT_FALSE(model::resolve_scenario(scenario_options(o)).conv_init.bias);

  EXPECT_NE(error_of({"--conv-bias-init", "uniform"}).find("--conv-bias-init"), std::string::npos);
  EXPECT_NE(error_of({"--conv-bias-init", "ones"}).find("allowed: scenario|zero|uniform"), std::string::npos);
  EXPECT_EQ(error_of({"--scenario", "vanishing", "--conv-bias-init", "uniform"}), "");
}

TEST(Options, DataCopiesIsNodeOrRank) {
  EXPECT_EQ(error_of({"--data-copies", "rank"}), "");
  EXPECT_EQ(error_of({"--data-copies", "node"}), "");
  const auto msg = error_of({"--data-copies", "host"});
  EXPECT_NE(msg.find("--data-copies: unknown value 'host'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("node|rank"), std::string::npos) << msg;
}

TEST(Options, TopologyInputErrorsNameTheOption) {
  EXPECT_NE(error_of({"--topology", "hierarchical", "--clients", "4", "--edges", "5"}).find("--edges"),
            std::string::npos);
  EXPECT_NE(error_of({"--edges", "2"}).find("only applies to --topology hierarchical"), std::string::npos);
  EXPECT_NE(error_of({"--rings", "2"}).find("--rings"), std::string::npos);
  EXPECT_NE(error_of({"--topology", "ring", "--clients", "3", "--rings", "4"}).find("--rings"), std::string::npos);
  EXPECT_NE(error_of({"--topology", "clustered", "--cluster-threshold", "0"}).find("--cluster-threshold"),
            std::string::npos);
  EXPECT_NE(error_of({"--topology", "clustered", "--trim-fraction", "0.5"}).find("--trim-fraction"),
            std::string::npos);
  EXPECT_NE(error_of({"--topology", "ring", "--participation", "0.5"}).find("--participation"), std::string::npos);
  EXPECT_NE(error_of({"--gossip-graph", "torus"}).find("only applies to --topology gossip"), std::string::npos);
  EXPECT_NE(error_of({"--topology", "star"}).find("star"), std::string::npos);
  EXPECT_EQ(error_of({"--topology", "hierarchical", "--edges", "2", "--edge-interval", "4"}), "");
}

TEST(Options, NumericOptionsMustBeFiniteAndInRange) {
  bad({"--lr", "1e308"}, {"--lr", "finite number in (0, 1e+20]", "1e+308"});
  bad({"--lr", "-inf"}, {"--lr", "(0, 1e+20]"});
  bad({"--lr", "1e999"}, {"--lr", "expected a finite number in (0, 1e+20]", "'1e999'"});
  bad({"--lr", "1.1e20"}, {"--lr", "(0, 1e+20]"});
  bad({"--leaky-slope", "1e308"}, {"--leaky-slope", "[0, 1000]"});
  bad({"--leaky-slope", "nan"}, {"--leaky-slope", "[0, 1000]", "got nan"});
  bad({"--synthetic-noise", "1e308"}, {"--synthetic-noise", "[0, 1000]"});
  bad({"--conv-init", "uniform:-1e308:1e308"}, {"--conv-init", "[-1000, 1000]", "'uniform:-1e308:1e308'"});
  bad({"--conv-init", "uniform:nan:1"}, {"--conv-init"});
  bad({"--conv-init", "uniform:1"}, {"--conv-init", "LOW < HIGH"});
  bad({"--conv-init", "he"}, {"--conv-init", "scenario|glorot|uniform:LOW:HIGH", "'he'"});
  bad({"--clip-norm", "1e308"}, {"--clip-norm", "[0, 1e+06]"});
  bad({"--clip-norm", "nan"}, {"--clip-norm"});
  bad({"--dirichlet-min-samples", "-1"}, {"--dirichlet-min-samples", "[0, 100000000]"});
  bad({"--hidden", "100000000"}, {"--hidden", "[1, 1000000]"});
  bad({"--synthetic-train-samples", "1000000000000"}, {"--synthetic-train-samples", "[1, 100000000]"});
  bad({"--clients", "0"}, {"--clients", "[1, 100000000]", "got 0"});
  bad({"--clients", "-5"}, {"--clients", "[1, 100000000]", "got -5"});
  EXPECT_EQ(error_of({"--clients", "-5"}).find("concept-shift"), std::string::npos);
  bad({"--rounds", "0"}, {"--rounds", "[1, 100000000]"});
  bad({"--rounds", "99999999999"}, {"--rounds", "expected an integer in [1, 100000000]"});
  bad({"--rounds", "2.5"}, {"--rounds", "integer", "'2.5'"});
  bad({"--local-iterations", "0"}, {"--local-iterations"});
  bad({"--iteration-steps", "-1"}, {"--iteration-steps", "[0, 1000000000]"});
  bad({"--batch-size", "-1"}, {"--batch-size"});
  bad({"--threads", "5000"}, {"--threads", "[1, 4096]"});
  bad({"--client-batch", "-1"}, {"--client-batch", "[0, 65536]"});
  bad({"--client-batch", "2.5"}, {"--client-batch"});
  bad({"--eval-batch-size", "0"}, {"--eval-batch-size"});
  bad({"--eval-every", "0"}, {"--eval-every", "[1, 100000000]"});
  bad({"--eval-every", "1.5"}, {"--eval-every", "integer"});
  bad({"--max-memory-gb", "inf"}, {"--max-memory-gb", "(0, 1e+06]"});
  bad({"--max-memory-gb", "0"}, {"--max-memory-gb"});
  bad({"--fail-at-round", "-1"}, {"--fail-at-round"});
  bad({"--eps", "nan"}, {"--eps"});
  bad({"--momentum", "nan"}, {"--momentum"});
  bad({"--beta2", "1"}, {"--beta2", "[0, 1)"});
  bad({"--dirichlet-alpha", "0"}, {"--dirichlet-alpha"});
  bad({"--seed", "-1"}, {"--seed", "[0, 18446744073709551615]"});
  bad({"--quiet=maybe"}, {"--quiet", "true|false", "'maybe'"});
  EXPECT_EQ(error_of({"--seed", "18446744073709551615", "--lr", "1e20", "--leaky-slope", "0", "--clients", "+3"}),
            "");
  EXPECT_EQ(error_of({"--conv-init", "uniform:-1000:1000", "--clip-norm", "1e6"}), "");

  // Options built in code are checked too.
  RunOptions o;
  o.lr = std::nan("");
  test::expect_input_error([&] { validate(o); }, {"--lr"});
  o = RunOptions{};
  o.participation = std::nan("");
  test::expect_input_error([&] { validate(o); }, {"--participation", "(0, 1]"});
}

TEST(Options, MemoryEstimateNamesTheOptionThatMakesItBig) {
  bad({"--dataset", "synthetic", "--synthetic-train-samples", "100000000"},
      {"--synthetic-train-samples", "GB", "--max-memory-gb 16"});
  bad({"--model", "mlp", "--hidden", "1000000", "--max-memory-gb", "2"}, {"--hidden", "12.7 GB", "--max-memory-gb 2"});
  bad({"--dataset", "synthetic", "--synthetic-test-samples", "10000000", "--synthetic-train-samples", "10",
       "--max-memory-gb", "1"},
      {"--synthetic-test-samples", "GB"});
  EXPECT_EQ(error_of({"--model", "mlp", "--hidden", "1000000"}), "");
  EXPECT_EQ(error_of({"--dataset", "synthetic", "--synthetic-train-samples", "1000000"}), "");
}

TEST(Options, MaxOutputGbAndConfigFileAreRecorded) {
  auto p = parse_run_options({"--max-output-gb", "2.5"});
  EXPECT_EQ(p.options.max_output_gb, 2.5);
  EXPECT_TRUE(p.options.config_file.empty());
  EXPECT_EQ(RunOptions{}.max_output_gb, 0.0);
  EXPECT_EQ(error_of({"--max-output-gb", "0"}), "");
  bad({"--max-output-gb", "-1"}, {"--max-output-gb", "[0, 1e+09]"});
  bad({"--max-output-gb", "nan"}, {"--max-output-gb"});
  EXPECT_NE(to_ini(p.options).find("\nmax-output-gb = 2.5\n"), std::string::npos);

  const std::string ini = write_file("fedhpc_config_file.ini", "rounds = 2\n");
  auto q = parse_run_options({"--config", ini});
  EXPECT_EQ(q.options.config_file, ini);
  EXPECT_EQ(to_ini(q.options).find(ini), std::string::npos);
  EXPECT_NE(parse_run_options({"--help"}).help_text.find("--max-output-gb"), std::string::npos);
}

TEST(Options, StrayInputIsAnError) {
  bad({"run-this"}, {"'run-this'", "positional"});
  bad({"--clients", "3", "stray", "--rounds", "2"}, {"'stray'", "positional"});
  bad({"--clients", "3", "--", "--rounds", "2"}, {"'--'", "positional"});
  bad({"--clients", "3", "--"}, {"'--'"});
  bad({"--config", testing::TempDir()}, {"--config", "is a directory"});
  bad({"--config", "/dev/zero"}, {"--config", "/dev/zero", "not a regular file"});
  const std::string other = write_file("fedhpc_other.ini", "rounds = 2\n");
  bad({"--config", write_file("fedhpc_nested.ini", "clients = 3\nconfig = " + other + "\n")},
      {"--config", "fedhpc_nested.ini", "line 2", "nested configs are not supported"});
  bad({"--config", write_file("fedhpc_big.ini", std::string((1 << 20) + 1, '#'))},
      {"--config", "fedhpc_big.ini", "larger than 1 MiB"});
  EXPECT_EQ(error_of({"--config", write_file("fedhpc_mib.ini", "#" + std::string((1 << 20) - 1, ' '))}), "");
  if (geteuid() != 0) {
    const std::string locked = write_file("fedhpc_locked.ini", "rounds = 2\n");
    chmod(locked.c_str(), 0);
    bad({"--config", locked}, {"--config", "fedhpc_locked.ini", "cannot be read"});
  }
}

TEST(Options, ConfigTextIsCheckedLineByLine) {
  auto p = parse_run_options({"--config", write_file("fedhpc_bom.ini", "\xEF\xBB\xBF" "clients = 4\n")});
  EXPECT_EQ(p.options.clients, 4);
  p = parse_run_options({"--config", write_file("fedhpc_comments.ini",
                                                "# top\n[run]\r\nrounds = 3 # three\noutput = a#b.h5\n\n")});
  EXPECT_EQ(p.options.rounds, 3);
  EXPECT_EQ(p.options.output, "a#b.h5");
  bad({"--config", write_file("fedhpc_nul.ini", std::string("clients = 4\nrounds = 2\0\n", 25))},
      {"--config", "line 2 is not text"});
  bad({"--config", write_file("fedhpc_ctrl.ini", "clients = 4\x1b[31m\n")}, {"--config", "line 1 is not text"});
  bad({"--config", write_file("fedhpc_section.ini", "[run]\nclients = 4\n[other]\n")},
      {"--config", "line 3", "'[other]'", "only one [run] header"});
  bad({"--config", write_file("fedhpc_tworun.ini", "[run]\n[run]\n")}, {"line 2", "[run]"});
  bad({"--config", write_file("fedhpc_unknown.ini", "clients = 4\nbogus-key = 3\n")},
      {"--config", "line 2", "unknown option 'bogus-key'"});
  bad({"--config", write_file("fedhpc_noeq.ini", "clients 4\n")}, {"line 1", "key = value", "'clients 4'"});
  bad({"--config", write_file("fedhpc_twice.ini", "rounds = 2\nlr = 0.1\nrounds = 3\n")},
      {"line 3", "--rounds", "already set on line 1"});
  bad({"--config", write_file("fedhpc_badvalue.ini", "lr = fast\n")},
      {"--config", "line 1", "--lr", "expected a finite number in (0, 1e+20]", "'fast'"});
  bad({"--config", write_file("fedhpc_utf8.ini", "model = \xC3\xA9\n")}, {"--model", "'\\xC3\\xA9'", "seed-cnn"});
  bad({"--config", write_file("fedhpc_help.ini", "help = true\n")}, {"unknown option 'help'"});
}

TEST(Options, MessagesQuoteUserTextSafelyAndBriefly) {
  EXPECT_EQ(quote_input("abc"), "'abc'");
  EXPECT_EQ(quote_input(std::string("a\0\n\xff", 4)), "'a\\x00\\x0A\\xFF'");
  const std::string long_quote = quote_input(std::string(500, 'x'));
  EXPECT_LE(long_quote.size(), 66u);
  EXPECT_NE(long_quote.find("...'"), std::string::npos);
  const std::string msg = error_of({"--optimizer", std::string(300, 'q') + "\x1b[2J"});
  EXPECT_NE(msg.find("--optimizer: unknown value 'qqq"), std::string::npos) << msg;
  EXPECT_LT(msg.size(), 140u) << msg;
  bad({"--partition", "ii\x01"}, {"--partition", "'ii\\x01'", "iid"});
  bad({"--lr", "abc\x1b[31m"}, {"--lr", "'abc\\x1B[31m'"});
  bad({"--bo\x01gus", "1"}, {"--bo\\x01gus", "unknown option"});
  bad({"--topology", "star"}, {"--topology", "'star'", "centralized"});
  // Boost's placeholders in user text once made its message formatting loop
  // forever (fuzz_options); they are escaped instead.
  bad({"--o\xff%original_token%A="}, {"\\x25original_token\\x25"});
  bad({"--help=%value%"}, {"--help"});
  bad({"--%option%"}, {"unknown option"});
  for (const auto& args : std::vector<std::vector<std::string>>{{"--lr", "a\x7f"}, {"--x\xff"}, {"\x01"}}) {
    const std::string m = error_of(args);
    EXPECT_TRUE(std::all_of(m.begin(), m.end(), [](unsigned char c) { return c >= 0x20 && c < 0x7f; })) << m;
  }
}

TEST(Options, IniDumpHasARunHeaderShortestDoublesAndOnlyItsTopology) {
  RunOptions o;
  o.participation = 0.3;
  o.lr = 0.1 + 0.2;
  const std::string ini = to_ini(o);
  EXPECT_EQ(ini.rfind("# fedhpc run configuration (fully resolved)\n[run]\n", 0), 0u) << ini;
  EXPECT_NE(ini.find("\nparticipation = 0.3\n"), std::string::npos) << ini;
  EXPECT_NE(ini.find("\nlr = 0.30000000000000004\n"), std::string::npos) << ini;
  EXPECT_NE(ini.find("\neps = 1e-07\n"), std::string::npos) << ini;
  EXPECT_EQ(ini.find("edges"), std::string::npos) << ini;
  EXPECT_EQ(ini.find("gossip"), std::string::npos) << ini;
  const std::map<std::string, std::string> owned = {
      {"hierarchical", "edge-interval"}, {"ring", "ring-grouping"}, {"clustered", "cluster-min-size"},
      {"gossip", "gossip-k"}};
  for (const std::string topology : {"centralized", "hierarchical", "ring", "clustered", "gossip"}) {
    RunOptions t;
    t.topology = topology;
    t.lr = 0.1 + 0.2;
    const std::string dump = to_ini(t);
    for (const auto& [owner, key] : owned)
      EXPECT_EQ(dump.find("\n" + key + " = ") != std::string::npos, owner == topology) << topology << " " << key;
    // Only clustered defaults to the trimmed mean, the one aggregator with a trim fraction.
    EXPECT_EQ(dump.find("\ntrim-fraction = ") != std::string::npos, topology == "clustered") << topology;
    EXPECT_EQ(dump.find("\naggregator = trimmed-mean\n") != std::string::npos, topology == "clustered") << topology;
    const std::string path = write_file("fedhpc_dump_" + topology + ".ini", dump);
    auto back = parse_run_options({"--config", path});
    EXPECT_NO_THROW(validate(back.options)) << topology;
    EXPECT_EQ(to_ini(back.options), dump) << topology;
    EXPECT_EQ(back.options.lr, t.lr);
  }
}

// Options of one aggregator, server optimizer or fault are refused with
// another, naming the option and what it needs.
TEST(Options, StrategyOptionsOnlyWithTheirStrategy) {
  const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
      {{"--trim-fraction", "0.2"}, {"--trim-fraction", "trimmed-mean"}},
      {{"--aggregator", "median", "--byzantine", "1"}, {"--byzantine", "krum"}},
      {{"--aggregator", "krum", "--krum-select", "2"}, {"--krum-select", "multi-krum"}},
      {{"--server-beta1", "0.5"}, {"--server-beta1", "adam"}},
      {{"--server-optimizer", "adam", "--server-momentum", "0.5"}, {"--server-momentum", "sgd"}},
      {{"--fault-scale", "3"}, {"--fault-scale", "sign-flip"}},
      {{"--edge-aggregator", "median"}, {"--edge-aggregator", "hierarchical"}},
      {{"--aggregator", "nope"}, {"--aggregator", "fedavg|fedgma|fedgma-soft|fedlama|krum|median|multi-krum|trimmed-mean"}},
      {{"--gma-threshold", "0.5"}, {"--gma-threshold", "fedgma or fedgma-soft"}},
      {{"--aggregator", "fedgma", "--gma-threshold", "1.5"}, {"--gma-threshold", "[0, 1]"}},
      {{"--aggregator", "fedgma", "--topology", "ring"}, {"--aggregator", "centralized"}},
      {{"--aggregator", "fedgma-soft", "--topology", "gossip"}, {"--aggregator", "centralized"}},
      {{"--topology", "hierarchical", "--edge-aggregator", "fedgma"}, {"--edge-aggregator", "centralized"}},
      {{"--aggregator", "fedgma", "--server-optimizer", "adam"}, {"--server-optimizer", "sgd"}},
      {{"--server-lr", "0"}, {"--server-lr", "(0, 1e+06]"}},
      {{"--aggregator", "fedgma-soft", "--server-lr", "0"}, {"--server-lr", "fedgma"}},
      {{"--color-task", "multiclass"}, {"--color-task", "colored-fashion-mnist"}},
      {{"--dataset", "colored-fashion-mnist", "--color-task", "ternary"}, {"--color-task", "binary|multiclass"}},
      {{"--fault", "melt"}, {"--fault", "sign-flip"}},
      {{"--dropout-rate", "1"}, {"--dropout-rate", "[0, 1)"}},
  };
  for (const auto& [args, needles] : cases)
    test::expect_input_error([&] { validate(parse_run_options(args).options); }, needles);
  // Accepted combinations.
  EXPECT_NO_THROW(validate(parse_run_options({"--aggregator", "trimmed-mean", "--trim-fraction", "0.2"}).options));
  EXPECT_NO_THROW(validate(parse_run_options({"--aggregator", "fedgma", "--gma-threshold", "0", "--server-lr", "0"}).options));
  EXPECT_NO_THROW(validate(parse_run_options({"--aggregator", "fedgma-soft", "--server-optimizer", "adam",
                                              "--server-lr", "0.1", "--gma-threshold", "0.9"}).options));
  EXPECT_NO_THROW(validate(parse_run_options({"--dataset", "colored-fashion-mnist", "--color-task", "multiclass",
                                              "--partition", "pathological"}).options));
  EXPECT_NO_THROW(validate(parse_run_options({"--topology", "hierarchical", "--aggregator", "median",
                                              "--edge-aggregator", "trimmed-mean", "--trim-fraction", "0.1"})
                               .options));
  EXPECT_NO_THROW(validate(parse_run_options({"--server-optimizer", "adam", "--server-lr", "0.01",
                                              "--server-beta1", "0.8"}).options));
  const auto clustered = parse_run_options({"--topology", "clustered"}).options;
  EXPECT_EQ(clustered.aggregator, "trimmed-mean");
  const auto hier = parse_run_options({"--topology", "hierarchical", "--aggregator", "median"}).options;
  EXPECT_EQ(hier.edge_aggregator, "median");
}
