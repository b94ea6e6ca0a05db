// The BLAS detection behind the `blas` root attribute and --threads for the
// BLAS: it finds the library that defines sgemm_ in this process, describes
// it in one non-empty line, and sets OpenBLAS's own thread count.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "fedhpc/core/blas_info.hpp"

using fedhpc::BlasInfo;

TEST(BlasInfo, FindsTheLibraryThatDefinesSgemm) {
  const auto& info = fedhpc::blas_info();
  ASSERT_NE(info.kind, BlasInfo::Kind::None) << info.description;  // LibTorch links a BLAS
  EXPECT_FALSE(info.description.empty());
  EXPECT_EQ(info.description.find('\n'), std::string::npos) << info.description;
  EXPECT_TRUE(std::filesystem::path(info.path).is_absolute()) << info.path;
  EXPECT_TRUE(std::filesystem::exists(info.path)) << info.path;
  EXPECT_NE(info.description.find(info.path), std::string::npos) << info.description;
  EXPECT_EQ(&fedhpc::blas_info(), &info);  // detected once
}

TEST(BlasInfo, OpenBlasThreadsFollowTheSetting) {
  const auto& info = fedhpc::blas_info();
  if (info.kind != BlasInfo::Kind::OpenBlas) {
    EXPECT_FALSE(fedhpc::set_blas_threads(1));
    GTEST_SKIP() << "not OpenBLAS: " << info.description;
  }
  EXPECT_EQ(info.description.rfind("OpenBLAS", 0), 0u) << info.description;
  EXPECT_TRUE(fedhpc::reference_blas_warning(info).empty());
  using GetFn = int (*)();
  void* handle = dlopen(info.path.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  ASSERT_NE(handle, nullptr);
  auto get = reinterpret_cast<GetFn>(dlsym(handle, "openblas_get_num_threads"));
  ASSERT_NE(get, nullptr);
  for (int n : {2, 1}) {
    EXPECT_TRUE(fedhpc::set_blas_threads(n));
    EXPECT_EQ(get(), n);
  }
  dlclose(handle);
}

TEST(BlasInfo, WarningOnlyForTheReferenceBlas) {
  BlasInfo reference;
  reference.kind = BlasInfo::Kind::Reference;
  reference.path = "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0";
  const auto w = fedhpc::reference_blas_warning(reference);
  EXPECT_EQ(w.rfind("fedhpc: warning:", 0), 0u) << w;
  EXPECT_NE(w.find(reference.path), std::string::npos) << w;
  EXPECT_NE(w.find("update-alternatives --set libblas.so.3-x86_64-linux-gnu "
                   "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3"),
            std::string::npos)
      << w;
  EXPECT_EQ(w.find('\n'), std::string::npos);
  BlasInfo other = reference;
  other.kind = BlasInfo::Kind::Other;
  EXPECT_TRUE(fedhpc::reference_blas_warning(other).empty());
}
