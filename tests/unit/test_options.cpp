#include <gtest/gtest.h>

#include <fstream>

#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/model/scenario.hpp"

using namespace fedhpc;

namespace {

std::string error_of(const std::vector<std::string>& args) {
  try {
    auto parsed = parse_run_options(args);
    validate(parsed.options);
    model::resolve_scenario(parsed.options);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
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
  auto s = model::resolve_scenario(o);
  EXPECT_EQ(s.activation, model::Activation::Relu);
  EXPECT_FALSE(s.conv_init.glorot);
  EXPECT_EQ(s.conv_init.low, 8.0);
  EXPECT_EQ(s.conv_init.high, 10.0);
  EXPECT_EQ(s.clip_norm, 0.0);
  o.scenario = "vanishing";
  s = model::resolve_scenario(o);
  EXPECT_EQ(s.activation, model::Activation::Tanh);
  EXPECT_EQ(s.conv_init.low, 4.0);
  o.scenario = "baseline";
  s = model::resolve_scenario(o);
  EXPECT_EQ(s.activation, model::Activation::LeakyRelu);
  EXPECT_TRUE(s.conv_init.glorot);
  EXPECT_EQ(s.clip_norm, 1.0);
  o.clip_norm = "0";
  EXPECT_EQ(model::resolve_scenario(o).clip_norm, 0.0);
}

TEST(Scenario, ConvBiasesFollowTheConvInitUnlessZero) {
  RunOptions o;
  o.scenario = "vanishing";
  EXPECT_TRUE(model::resolve_scenario(o).conv_init.bias);
  o.scenario = "exploding";
  EXPECT_TRUE(model::resolve_scenario(o).conv_init.bias);
  o.conv_bias_init = "zero";
  EXPECT_FALSE(model::resolve_scenario(o).conv_init.bias);
  o.scenario = "baseline";
  o.conv_bias_init = "scenario";
  EXPECT_FALSE(model::resolve_scenario(o).conv_init.bias);
  o.conv_init = "uniform:1:2";
  EXPECT_FALSE(model::resolve_scenario(o).conv_init.bias);
  o.conv_bias_init = "uniform";
  EXPECT_TRUE(model::resolve_scenario(o).conv_init.bias);
  o.scenario = "vanishing";
  o.conv_init = "glorot";
  o.conv_bias_init = "scenario";
  EXPECT_FALSE(model::resolve_scenario(o).conv_init.bias);

  EXPECT_NE(error_of({"--conv-bias-init", "uniform"}).find("--conv-bias-init"), std::string::npos);
  EXPECT_NE(error_of({"--conv-bias-init", "ones"}).find("allowed: scenario|zero|uniform"), std::string::npos);
  EXPECT_EQ(error_of({"--scenario", "vanishing", "--conv-bias-init", "uniform"}), "");
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
