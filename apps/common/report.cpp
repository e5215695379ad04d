#include "apps/common/report.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <vector>

#include "apps/common/json.h"
#include "core/error.h"
#include "core/file_io.h"
#include "kernels/blas.h"

namespace pmx::apps {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  int64_t t = int64_t(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", long(t / 3600), long(t / 60 % 60));
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", long(t / 60), long(t % 60));
  else std::snprintf(buf, sizeof buf, "%lds", long(t));
  return buf;
}

Progress::Progress(int64_t total_steps, bool interactive, int64_t start_step)
    : total_(total_steps), start_(start_step), interactive_(interactive && isatty(fileno(stdout))) {}

void Progress::update(int64_t step, const std::vector<std::pair<std::string, double>>& metrics,
                      double samples_per_second) {
  double now = timer_.seconds();
  // Redraw at most 4 times a second on a terminal; once every 10 s into a log file.
  if (now - last_print_ < (interactive_ ? 0.25 : 10.0) && step != total_) return;
  last_print_ = now;
  double eta = step > start_ ? now / double(step - start_) * double(total_ - step) : NAN;
  std::ostringstream line;
  line << "step " << step << "/" << total_;
  for (auto& [name, value] : metrics) line << "  " << name << " " << value;
  line << "  " << int64_t(samples_per_second) << " samples/s  ETA " << format_duration(eta);
  if (interactive_) std::printf("\r%-100s", line.str().c_str());
  else std::printf("%s\n", line.str().c_str());
  std::fflush(stdout);
}

void Progress::finish() {
  if (interactive_) std::printf("\n");
  std::fflush(stdout);
}

CsvLog::CsvLog(const std::string& path, const std::vector<std::string>& columns)
    : path_(path), columns_(columns.size()) {
  if (path.empty()) return;
  file_ = std::fopen(path.c_str(), "w");
  PMX_CHECK(file_ != nullptr, "cannot create CSV log ", path, ": ", std::strerror(errno));
  for (size_t i = 0; i < columns.size(); ++i) std::fprintf(file_, "%s%s", i ? "," : "", columns[i].c_str());
  std::fprintf(file_, "\n");
  check_written();
}

void CsvLog::check_written() {
  if (std::fflush(file_) == 0 && !std::ferror(file_)) return;
  std::fprintf(stderr, "warning: cannot write the CSV log %s (%s); it stops here\n", path_.c_str(),
               std::strerror(errno));
  std::fclose(file_);
  file_ = nullptr;
  ok_ = false;
}

CsvLog::~CsvLog() {
  if (file_) std::fclose(file_);
}

void CsvLog::row(const std::vector<double>& values) {
  if (!file_) return;
  PMX_CHECK(values.size() == columns_, "[CsvLog] row has ", values.size(), " values for ", columns_, " columns");
  for (size_t i = 0; i < values.size(); ++i) std::fprintf(file_, "%s%.8g", i ? "," : "", values[i]);
  std::fprintf(file_, "\n");
  check_written();
}

void Summary::set(const std::string& key, double value) { set_json(key, json_number(value)); }

void Summary::set(const std::string& key, const std::string& value) { set_json(key, json_string(value)); }

void Summary::set_json(const std::string& key, const std::string& json) {
  for (auto& field : fields_)
    if (field.first == key) { field.second = json; return; }
  fields_.emplace_back(key, json);
}

std::string Summary::to_json() const {
  std::string out = "{\n";
  for (size_t i = 0; i < fields_.size(); ++i)
    out += "  " + json_string(fields_[i].first) + ": " + fields_[i].second + (i + 1 < fields_.size() ? ",\n" : "\n");
  return out + "}\n";
}

void Summary::write(const std::string& path) const {
  try {
    write_file_atomic(path, to_json());  // a failed write leaves an older summary as it was
  } catch (const Error& e) {
    throw Error(detail::concat("cannot write summary ", path, ": ", e.what()));
  }
}

void check_output_path(const std::string& what, const std::string& path) {
  if (path.empty()) return;
  auto fail = [&](const std::string& why) { throw Error(detail::concat(what, ": cannot write ", path, ": ", why)); };
  if (path.back() == '/') fail("it names a folder, not a file");
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) fail("it is a folder");
    if (!S_ISREG(st.st_mode)) fail("it exists and is not a regular file");
    if (::access(path.c_str(), W_OK) != 0)
      fail(detail::concat("the file exists and is not writable (", std::strerror(errno), ")"));
  }
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (::stat(dir.c_str(), &st) != 0)
    fail(errno == ENOENT ? "the folder " + dir + " does not exist"
                         : detail::concat("the folder ", dir, " cannot be reached (", std::strerror(errno), ")"));
  if (!S_ISDIR(st.st_mode)) fail(dir + " is not a folder");
  std::string probe = path + ".probe.XXXXXX";
  std::vector<char> name(probe.begin(), probe.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) fail(detail::concat("cannot create a file in the folder ", dir, " (", std::strerror(errno), ")"));
  ::close(fd);
  ::unlink(name.data());
}

void check_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& outputs) {
  namespace fs = std::filesystem;
  std::vector<std::pair<fs::path, std::string>> seen;  // (the file, what names it)
  for (const auto& [what, path] : outputs) {
    if (path.empty()) continue;
    std::error_code ec;
    fs::path file = fs::weakly_canonical(path, ec);  // resolves ".", ".." and symlinks that exist
    if (ec) file = fs::absolute(path, ec).lexically_normal();
    for (const auto& [other, other_what] : seen)
      PMX_CHECK(other != file, other_what, " and ", what, " name the same file ", path,
                ": one would overwrite the other; give them different paths");
    seen.emplace_back(file, what);
  }
}

void check_run_outputs(const std::vector<std::pair<std::string, std::string>>& outputs,
                       const std::pair<std::string, std::string>& resume, const std::string& checkpoint) {
  for (const auto& [what, path] : outputs) check_output_path(what, path);
  check_distinct_outputs(outputs);
  if (resume.second.empty()) return;
  std::vector<std::pair<std::string, std::string>> over_resume = {resume};
  for (const auto& output : outputs)
    if (output.first != checkpoint) over_resume.push_back(output);
  check_distinct_outputs(over_resume);
}

void note_blas_kernels() {
  if (kernels::blas_fma_bits() > 0 || !__builtin_cpu_supports("avx2")) return;
  std::printf("note: OpenBLAS runs its %s kernels (no FMA) on this CPU, which has AVX2, so dense layers are slow; "
              "OPENBLAS_CORETYPE=%s in the environment picks faster ones\n",
              kernels::blas_core_name(), __builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell");
}

}  // namespace pmx::apps
