// The command-line options of the C++ examples, parsed one way for all of them:
//   --name VALUE or --name=VALUE; --help or -h prints the usage and exits 0; an unknown option or
//   a bad value prints what is wrong and the usage to stderr and exits 2.
//
//   example::Options options("decode_loop", "what it shows, in one line");
//   options.add("--steps", &steps, "decode steps", 1);
//   options.parse(argc, argv);
#ifndef DEVTENSOR_EXAMPLES_OPTIONS_H_
#define DEVTENSOR_EXAMPLES_OPTIONS_H_

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace example {

class Options {
 public:
  Options(std::string program, std::string summary)
      : program_(std::move(program)), summary_(std::move(summary)) {}

  // A text option; with `choices`, only those values.
  void add(const char* name, std::string* value, const char* help,
           std::vector<std::string> choices = {}) {
    options_.push_back({name, help, value, nullptr, 0, std::move(choices), *value});
  }
  // A whole-number option of at least `min`.
  void add(const char* name, int64_t* value, const char* help, int64_t min = 0) {
    options_.push_back({name, help, nullptr, value, min, {}, std::to_string(*value)});
  }

  // Parses argv[1..] into the variables given to add().
  void parse(int argc, char** argv) const {
    for (int i = 1; i < argc; ++i) {
      std::string name = argv[i], value;
      if (name == "--help" || name == "-h") {
        std::fputs(usage().c_str(), stdout);
        std::exit(0);
      }
      const size_t equals = name.find('=');
      if (equals != std::string::npos) {
        value = name.substr(equals + 1);
        name.resize(equals);
      }
      const Option* option = find(name);
      if (option == nullptr) fail("unknown option " + name);
      if (equals == std::string::npos) {
        if (i + 1 == argc) fail(name + " needs a value");
        value = argv[++i];
      }
      set(*option, value);
    }
  }

  // Prints `message` and the usage to stderr and exits 2: for checks across options too.
  [[noreturn]] void fail(const std::string& message) const {
    std::fprintf(stderr, "%s: %s\n\n%s", program_.c_str(), message.c_str(), usage().c_str());
    std::exit(2);
  }

  std::string usage() const {
    std::string text = "usage: " + program_ + " [OPTIONS]\n" + summary_ + "\n\n";
    for (const Option& option : options_) {
      text += Line("  " + option.name + " " + Placeholder(option),
                   option.help + " (default " + option.default_text + ")");
    }
    return text + Line("  -h, --help", "this text");
  }

 private:
  struct Option {
    std::string name, help;
    std::string* text;
    int64_t* number;
    int64_t min;
    std::vector<std::string> choices;
    std::string default_text;
  };

  // The option in a column of its own, its help beside it (below it when the option is long).
  static std::string Line(std::string option, const std::string& help) {
    constexpr size_t kColumn = 26;
    option += option.size() < kColumn ? std::string(kColumn - option.size(), ' ')
                                      : "\n" + std::string(kColumn, ' ');
    return option + help + "\n";
  }

  static std::string Placeholder(const Option& option) {
    if (option.number != nullptr) return "N";
    if (option.choices.empty()) return "TEXT";
    std::string choices;
    for (const std::string& choice : option.choices) choices += (choices.empty() ? "" : "|") + choice;
    return choices;
  }

  const Option* find(const std::string& name) const {
    for (const Option& option : options_) {
      if (option.name == name) return &option;
    }
    return nullptr;
  }

  void set(const Option& option, const std::string& value) const {
    if (option.number != nullptr) {
      char* end = nullptr;
      errno = 0;
      const long long number = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || number < option.min) {
        fail("bad value for " + option.name + ": " + value + " (a whole number, at least " +
             std::to_string(option.min) + ")");
      }
      *option.number = number;
      return;
    }
    bool allowed = option.choices.empty();
    for (const std::string& choice : option.choices) allowed = allowed || choice == value;
    if (!allowed) fail("bad value for " + option.name + ": " + value + " (" + Placeholder(option) + ")");
    *option.text = value;
  }

  std::string program_, summary_;
  std::vector<Option> options_;
};

}  // namespace example

#endif  // DEVTENSOR_EXAMPLES_OPTIONS_H_
