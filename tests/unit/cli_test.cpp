#include "launcher/cli.h"

#include "common/error.h"
#include "common/suggest.h"
#include "trainer/run_directory.h"
#include "optim/schedule.h"

#include <gtest/gtest.h>

#include <fstream>

namespace {

using trainer::launcher::Action;
using trainer::launcher::parse_command_line;

trainer::launcher::Command parse(std::vector<std::string> args) {
  args.insert(args.begin(), "trainer");
  return parse_command_line(args);
}

std::string error_of(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const trainer::ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Cli, DefaultsTrainLeNetOnFashionMnist) {
  auto c = parse({});
  EXPECT_EQ(c.action, Action::kTrain);
  EXPECT_EQ(c.train.model, "lenet");
  EXPECT_EQ(c.train.data.dataset, "fashion-mnist");
  EXPECT_EQ(c.train.threads, 1);
  EXPECT_EQ(c.train.device, "auto");
  EXPECT_FALSE(c.train.data.normalize.has_value());
}

TEST(Cli, TrainSubCommandIsOptionalAndOptionsAreParsed) {
  auto c = parse({"train", "--model", "resnet18", "--epochs", "3", "--lr", "0.1", "--classes",
                  "0,6", "--normalize", "0.5,0.25", "--seed", "7", "--optimizer", "adam",
                  "--limit-train=100", "--synthetic-shape", "3,16,16"});
  EXPECT_EQ(c.train.model, "resnet18");
  EXPECT_EQ(c.train.epochs, 3);
  EXPECT_DOUBLE_EQ(c.train.optimizer.lr, 0.1);
  EXPECT_EQ(c.train.data.classes, (std::vector<std::int64_t>{0, 6}));
  EXPECT_DOUBLE_EQ(c.train.data.normalize->second, 0.25);
  EXPECT_EQ(c.train.seed, 7u);
  EXPECT_EQ(c.train.data.seed, 7u);
  EXPECT_EQ(c.train.optimizer.name, "adam");
  EXPECT_EQ(c.train.data.limit_train, 100);
  EXPECT_EQ(c.train.data.synthetic_shape, (std::vector<std::int64_t>{3, 16, 16}));
}

TEST(Cli, HelpAndVersion) {
  auto help = parse({"train", "--help"});
  EXPECT_EQ(help.action, Action::kHelp);
  EXPECT_NE(help.help_text.find("--limit-train"), std::string::npos);
  EXPECT_NE(help.help_text.find("usage: trainer"), std::string::npos);
  EXPECT_EQ(parse({"--version"}).action, Action::kVersion);
  EXPECT_NE(trainer::launcher::version_text().find("LibTorch"), std::string::npos);
}

TEST(Cli, ConfigFileIsReadAndTheCommandLineWins) {
  const std::string path = ::testing::TempDir() + "/cli_test.ini";
  std::ofstream(path) << "# a comment\nepochs = 4\nlr = 0.5\nmodel = resnet18\nclasses = 1,2,3\n";
  auto c = parse({"--config", path, "--lr", "0.2"});
  EXPECT_EQ(c.train.epochs, 4);
  EXPECT_DOUBLE_EQ(c.train.optimizer.lr, 0.2);
  EXPECT_EQ(c.train.model, "resnet18");
  EXPECT_EQ(c.train.data.classes.size(), 3u);
}

TEST(Cli, ConfigFileErrorsNameTheFile) {
  const std::string path = ::testing::TempDir() + "/cli_test_bad.ini";
  std::ofstream(path) << "epochz = 4\n";
  EXPECT_NE(error_of({"--config", path}).find(path), std::string::npos);
  EXPECT_NE(error_of({"--config", path}).find("epochz"), std::string::npos);
  std::ofstream(path) << "epochs = many\n";
  EXPECT_NE(error_of({"--config", path}).find("epochs"), std::string::npos);
  EXPECT_NE(error_of({"--config", "/nonexistent.ini"}).find("cannot open"), std::string::npos);
}

// Every error path of the command line: each must be a ConfigError whose message names the
// option (so main() prints one line and exits 2).
TEST(Cli, EveryBadInputIsAConfigErrorNamingTheOption) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> table = {
      {{"--bogus"}, "--bogus"},
      {{"frobnicate"}, "sub-command 'frobnicate'"},
      {{"eval"}, "eval: --checkpoint PATH is required"},
      {{"export", "ck"}, "export: --to FILE.pt is required"},
      {{"export"}, "export: name a checkpoint"},
      {{"train", "extra"}, "positional"},
      {{"--epochs"}, "epochs"},
      {{"--epochs", "x"}, "epochs"},
      {{"--epochs", "0"}, "--epochs"},
      {{"--epochs", "-3"}, "--epochs"},
      {{"--batch-size", "0"}, "--batch-size"},
      {{"--test-batch-size", "0"}, "--test-batch-size"},
      {{"--lr", "0"}, "--lr"},
      {{"--lr", "-1"}, "--lr"},
      {{"--lr", "nan"}, "--lr"},
      {{"--momentum", "1"}, "--momentum"},
      {{"--weight-decay", "-0.1"}, "--weight-decay"},
      {{"--lr-step", "-1"}, "--lr-step"},
      {{"--lr-gamma", "0"}, "--lr-gamma"},
      {{"--optimizer", "lbfgs"}, "--optimizer"},
      {{"--model", "vgg"}, "--model"},
      {{"--dataset", "cifar"}, "--dataset"},
      {{"--dataset", "hdf5"}, "--data FILE"},
      {{"--num-classes", "1"}, "--num-classes"},
      {{"--threads", "0"}, "--threads"},
      {{"--seed", "-1"}, "--seed"},
      {{"--limit-train", "-5"}, "--limit-train"},
      {{"--limit-test", "-5"}, "--limit-test"},
      {{"--classes", "3"}, "--classes"},
      {{"--classes", "1,x"}, "--classes"},
      {{"--normalize", "0.5"}, "--normalize"},
      {{"--normalize", "0.5,0"}, "--normalize"},
      {{"--synthetic-shape", "1,32"}, "--synthetic-shape"},
      {{"--synthetic-shape", "1,0,32"}, "--synthetic-shape"},
      {{"--synthetic-size", "0"}, "--synthetic-size"},
      {{"--synthetic-classes", "1"}, "--synthetic-classes"},
      {{"--progress-seconds", "-1"}, "--progress-seconds"},
      {{"--accumulate-steps", "0"}, "--accumulate-steps"},
      {{"--gpu-order", "random"}, "--gpu-order"},
      {{"--stop-signals", "KILL"}, "--stop-signals"},
      {{"--stop-signals", ""}, "--stop-signals"},
      {{"--keep-last", "-1"}, "--keep-last"},
      {{"--checkpoint-every", "-1"}, "--checkpoint-every"},
      {{"--checkpoint-every-steps", "-1"}, "--checkpoint-every-steps"},
      {{"inspect"}, "name a checkpoint"},
      {{"inspect", "a", "b"}, "inspect:"},
      {{"inspect", "--bogus"}, "inspect:"},
      {{"info", "--verbose"}, "info: takes no options"},
      {{"--precision", "fp8"}, "expected fp32, bf16 or fp16"},
      {{"--lrr", "0.1"}, "did you mean '--lr'?"},
      {{"--chekpoint-dir", "x"}, "did you mean '--checkpoint-dir'?"},
      {{"--optimizer", "adamm"}, "did you mean 'adam'?"},
      {{"--lr-schedule", "cosin"}, "did you mean 'cosine'?"},
      {{"inspect", "x", "--verfy"}, "did you mean '--verify'?"},
      {{"--checkpoint-dir", ""}, "--checkpoint-dir is empty"},
      {{"--name", "a/b"}, "--name a/b: a run name is one folder name"},
      {{"--name", "a", "--run-dir", "b"}, "--run-dir and --name exclude each other"},
      {{"--train-only", ""}, "--train-only needs a non-empty prefix"},
      {{"eval", "a", "b"}, "unexpected positional argument 'b'"},
      {{"eval", "a", "--lrr", "0.1"}, "unrecognised option '--lrr'"},
  };
  for (const auto& [args, expected] : table) {
    const std::string message = error_of(args);
    EXPECT_NE(message.find(expected), std::string::npos)
        << "args: " << args[0] << " ... -> '" << message << "', expected '" << expected << "'";
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(Cli, DidYouMeanNamesNothingForAFarWord) {
  EXPECT_EQ(error_of({"--zzzzzzzz"}).find("did you mean"), std::string::npos);
  EXPECT_EQ(trainer::closest_name("lr", {"lr", "lr-step"}), "lr");
  EXPECT_EQ(trainer::closest_name("nestrov", {"nesterov", "momentum"}), "nesterov");
  EXPECT_EQ(trainer::closest_name("warmup", {"warmup-steps", "warmup-epochs"}), "");  // the start of two
  EXPECT_EQ(trainer::edit_distance("abcd", "abdc"), 1u);
}

// --print-config writes what --config reads back to the same configuration: the options given as
// settings, the defaults as comments (so that they stay defaults, not explicit options), numbers
// as a person writes them.
TEST(Cli, PrintConfigIsAnIniFileThatConfigReadsBack) {
  const auto printed = parse({"--lr", "0.05", "--freeze", "features.0", "--freeze", "features.3", "--print-config"});
  EXPECT_EQ(printed.action, Action::kPrintConfig);
  const std::string& ini = printed.help_text;
  EXPECT_NE(ini.find("\nlr = 0.05\n"), std::string::npos) << ini;
  EXPECT_NE(ini.find("\n# momentum = 0.9\n"), std::string::npos) << ini;
  EXPECT_NE(ini.find("\n# comm-timeout = 600\n"), std::string::npos) << ini;
  EXPECT_NE(ini.find("\nfreeze = features.0\nfreeze = features.3\n"), std::string::npos) << ini;
  const std::string path = ::testing::TempDir() + "/cli_test_printed.ini";
  std::ofstream(path) << ini;
  const auto read_back = parse({"--config", path});
  EXPECT_DOUBLE_EQ(read_back.train.optimizer.lr, 0.05);
  EXPECT_EQ(read_back.train.freeze, (std::vector<std::string>{"features.0", "features.3"}));
  auto given = printed.train.explicit_options, read = read_back.train.explicit_options;
  given.erase("print-config");
  read.erase("config");
  EXPECT_EQ(read, given);
  EXPECT_EQ(parse({"--config", path, "--print-config"}).help_text, ini);
  EXPECT_EQ(parse({"--help"}).help_text.find("0.90000000000000002"), std::string::npos);
}

TEST(Cli, ConfigFilesDoNotNest) {
  const std::string path = ::testing::TempDir() + "/cli_test_nested.ini";
  std::ofstream(path) << "epochs = 2\nconfig = other.ini\n";
  EXPECT_NE(error_of({"--config", path}).find("'config =' cannot be set in a configuration file"), std::string::npos);
}

TEST(Cli, EvalTakesThePathAsInspectAndExportDo) {
  EXPECT_EQ(parse({"eval", "runs/a"}).eval.checkpoint, "runs/a");
  EXPECT_EQ(parse({"eval", "--checkpoint", "runs/a"}).eval.checkpoint, "runs/a");
  EXPECT_EQ(parse({"eval", "runs/a", "--top-k", "3"}).eval.top_k, 3);
  EXPECT_EQ(parse({"inspect", "--checkpoint", "runs/a"}).inspect.path, "runs/a");
  EXPECT_EQ(parse({"export", "runs/a", "--to", "a.pt"}).exporting.path, "runs/a");
  const auto with_training_options = parse({"eval", "runs/a", "--lr", "0.1", "--epochs", "3"});
  EXPECT_EQ(with_training_options.eval.unused_options, (std::vector<std::string>{"--epochs", "--lr"}));
  EXPECT_EQ(with_training_options.train.explicit_options.count("lr"), 0u);
  const std::string help = parse({"eval", "--help"}).help_text;
  EXPECT_NE(help.find("--image-size"), std::string::npos);
  for (const char* training_only : {"--lr ", "--epochs", "--crop-scale", "--checkpoint-every", "--freeze"})
    EXPECT_EQ(help.find(training_only), std::string::npos) << training_only;
}

TEST(RunIdentity, OnlyWhatMakesTheRunCounts) {
  const auto a = trainer::run_identity("# header\nlr = 0.05\n# momentum = 0.9\nepochs = 3\nmetrics-file = a\n");
  const auto b = trainer::run_identity("lr = 0.05\nmomentum = 0.9\nepochs = 9\n");
  EXPECT_EQ(trainer::identity_difference(a, b, "b.ini"), "");
  const auto c = trainer::run_identity("lr = 0.1\n# momentum = 0.9\n");
  EXPECT_EQ(trainer::identity_difference(a, c, "c.ini"), "--lr 0.05 in this run against 0.1 in c.ini");
  const auto d = trainer::run_identity("lr = 0.05\n# momentum = 0.9\nfreeze = fc\n");
  EXPECT_EQ(trainer::identity_difference(a, d, "d.ini"), "--freeze (unset) in this run against fc in d.ini");
}

TEST(Cli, InspectTakesAPathAndVerify) {
  auto c = parse({"inspect", "runs/ck", "--verify"});
  EXPECT_EQ(c.action, Action::kInspect);
  EXPECT_EQ(c.inspect.path, "runs/ck");
  EXPECT_TRUE(c.inspect.verify);
  EXPECT_TRUE(c.inspect.model.empty());
  EXPECT_EQ(parse({"inspect", "runs/ck", "--model", "nets/cnn.ts"}).inspect.model, "nets/cnn.ts");
  EXPECT_EQ(parse({"inspect", "--help"}).action, Action::kHelp);
}

TEST(Cli, InfoAndFp16) {
  EXPECT_EQ(parse({"info"}).action, Action::kInfo);
  EXPECT_EQ(parse({"info", "--help"}).action, Action::kHelp);
  EXPECT_EQ(parse({"--precision", "fp16"}).train.precision, "fp16");
}

TEST(Cli, ExportTakesWhereTheModelFileIsNow) {
  auto c = parse({"export", "runs/ck", "--to", "w.pt", "--model", "nets/cnn.ts"});
  EXPECT_EQ(c.action, Action::kExport);
  EXPECT_EQ(c.exporting.model, "nets/cnn.ts");
  EXPECT_TRUE(parse({"export", "runs/ck", "--to", "w.pt"}).exporting.model.empty());
}

TEST(Cli, CheckpointOptions) {
  auto c = parse({"--checkpoint-dir", "ck", "--checkpoint-every", "2", "--checkpoint-every-steps", "50",
                  "--keep-last", "5", "--resume", "none"});
  EXPECT_EQ(c.train.checkpoint_dir, "ck");
  EXPECT_EQ(c.train.checkpoint_every, 2);
  EXPECT_EQ(c.train.checkpoint_every_steps, 50);
  EXPECT_EQ(c.train.keep_last, 5);
  EXPECT_EQ(c.train.resume, "none");
  EXPECT_TRUE(parse({}).train.checkpointing());
  EXPECT_FALSE(parse({"--checkpoint-dir", "none"}).train.checkpointing());
}

TEST(Cli, FineTuningOptions) {
  auto c = parse({"--init-from", "pre.pt", "--freeze", "features.", "--freeze", "bn", "--lr-group",
                  "features.=0.001,momentum=0.5", "--lr-group", "classifier.0.=0", "--init-non-strict"});
  EXPECT_EQ(c.train.init_from, "pre.pt");
  EXPECT_TRUE(c.train.init_non_strict);
  EXPECT_EQ(c.train.freeze, (std::vector<std::string>{"features.", "bn"}));
  ASSERT_EQ(c.train.lr_groups.size(), 2u);
  EXPECT_EQ(c.train.lr_groups[0].prefix, "features.");
  EXPECT_DOUBLE_EQ(c.train.lr_groups[0].lr, 0.001);
  EXPECT_DOUBLE_EQ(*c.train.lr_groups[0].momentum, 0.5);
  EXPECT_FALSE(c.train.lr_groups[0].weight_decay.has_value());
  EXPECT_DOUBLE_EQ(c.train.lr_groups[1].lr, 0.0);
  for (const char* bad : {"features.", "=0.1", "features.=x", "features.=-1", "features.=0.1,speed=2",
                          "features.=0.1,momentum=1"})
    EXPECT_THROW(trainer::launcher::parse_lr_group(bad), trainer::ConfigError) << bad;
}

TEST(Cli, ListParsers) {
  EXPECT_EQ(trainer::launcher::parse_int_list("1, 2,3", "--x"), (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_THROW(trainer::launcher::parse_int_list("1.5", "--x"), trainer::ConfigError);
  EXPECT_THROW(trainer::launcher::parse_int_list("", "--x"), trainer::ConfigError);
  EXPECT_EQ(trainer::launcher::parse_double_list("0.5,1e-3", "--x"), (std::vector<double>{0.5, 1e-3}));
}

TEST(LrSchedule, StepDecayLikePyTorchStepLR) {
  trainer::optim::ScheduleConfig c;
  c.step = 0;
  EXPECT_DOUBLE_EQ(trainer::optim::make_schedule(c, 0.1)->lr(0.1, {0, 7}), 0.1);
  c.step = 3;
  c.gamma = 0.5;
  const auto schedule = trainer::optim::make_schedule(c, 0.1);
  EXPECT_DOUBLE_EQ(schedule->lr(0.1, {0, 2}), 0.1);
  EXPECT_DOUBLE_EQ(schedule->lr(0.1, {0, 3}), 0.05);
  EXPECT_DOUBLE_EQ(schedule->lr(0.1, {0, 7}), 0.025);
}

}  // namespace

namespace {

TEST(Cli, OptimizerOptionsTakePyTorchsDefaultsPerOptimizer) {
  const auto adamw = parse({"--optimizer", "adamw"}).train.optimizer;
  EXPECT_DOUBLE_EQ(adamw.weight_decay, 0.01);  // torch.optim.AdamW's
  EXPECT_DOUBLE_EQ(parse({"--optimizer", "adamw", "--weight-decay", "0"}).train.optimizer.weight_decay, 0.0);
  EXPECT_DOUBLE_EQ(parse({"--optimizer", "rmsprop"}).train.optimizer.momentum, 0.0);  // torch.optim.RMSprop's
  EXPECT_DOUBLE_EQ(parse({"--optimizer", "rmsprop", "--momentum", "0.5"}).train.optimizer.momentum, 0.5);
  EXPECT_DOUBLE_EQ(parse({}).train.optimizer.momentum, 0.9);
  const auto adam = parse({"--optimizer", "adam", "--betas", "0.8,0.99", "--eps", "1e-6"}).train.optimizer;
  EXPECT_DOUBLE_EQ(adam.beta1, 0.8);
  EXPECT_DOUBLE_EQ(adam.beta2, 0.99);
  EXPECT_DOUBLE_EQ(adam.eps, 1e-6);
}

TEST(Cli, OptionsOfAnotherOptimizerOrScheduleAreRefused) {
  EXPECT_EQ(error_of({"--optimizer", "adam", "--nesterov"}), "--nesterov does not apply to --optimizer adam");
  EXPECT_EQ(error_of({"--alpha", "0.9"}), "--alpha does not apply to --optimizer sgd");
  EXPECT_EQ(error_of({"--nesterov", "--momentum", "0"}), "--nesterov needs a --momentum above 0");
  EXPECT_EQ(error_of({"--lr-milestones", "3"}), "--lr-milestones does not apply to --lr-schedule step");
  EXPECT_EQ(error_of({"--lr-schedule", "cosine", "--lr-step", "3"}), "--lr-step does not apply to --lr-schedule cosine");
  EXPECT_EQ(error_of({"--lr-schedule", "cosine", "--lr-min", "0.5"}), "--lr-min must be at least 0 and below --lr");
  EXPECT_EQ(error_of({"--precision", "fp8"}), "--precision fp8: expected fp32, bf16 or fp16");
  EXPECT_EQ(error_of({"--monitor", "loss", "--keep-best", "1"}), "--monitor loss: expected test_accuracy or test_loss");
  EXPECT_EQ(parse({"--lr-schedule", "multistep", "--lr-milestones", "3,6"}).train.schedule.milestones,
            (std::vector<std::int64_t>{3, 6}));
}

TEST(LrSchedule, WarmupScalesTheFirstStepsAndIsRecordedOnlyWhenOn) {
  trainer::optim::ScheduleConfig c;
  c.step = 0;
  EXPECT_EQ(trainer::optim::make_schedule(c, 0.1)->record().count("warmup_steps"), 0u);  // format v1's record
  c.warmup_steps = 4;
  c.warmup_start_factor = 0.25;
  const auto schedule = trainer::optim::make_schedule(c, 0.1, {2, 10});
  EXPECT_DOUBLE_EQ(schedule->lr(0.1, {0, 0}), 0.025);
  EXPECT_DOUBLE_EQ(schedule->lr(0.1, {2, 0}), 0.1 * (0.25 + 0.75 * 2 / 4));
  EXPECT_DOUBLE_EQ(schedule->lr(0.1, {4, 0}), 0.1);
  EXPECT_EQ(std::get<std::int64_t>(schedule->record().at("warmup_steps")), 4);
  c.name = "cosine";
  c.warmup_steps = 20;
  EXPECT_THROW(trainer::optim::make_schedule(c, 0.1, {2, 10}), trainer::ConfigError);  // no step left
  c.warmup_steps = 0;
  c.warmup_epochs = 3;
  EXPECT_THROW(trainer::optim::make_schedule(c, 0.1, {2, 10}), trainer::ConfigError);  // longer than the run
}

}  // namespace
