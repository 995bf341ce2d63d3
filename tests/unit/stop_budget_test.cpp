#include "trainer/stop_budget.h"

#include <gtest/gtest.h>

namespace trainer {

TEST(StopBudget, UnknownLeadNeverWarns) {
  StopBudget budget(0);
  EXPECT_FALSE(budget.after_save(1e6, 1e6));
}

TEST(StopBudget, SaveThatFitsDoesNotWarn) {
  StopBudget budget(60);
  EXPECT_FALSE(budget.after_save(50, 9.5));
}

TEST(StopBudget, SavePlusStepBeyondTheLeadWarnsWithTheFigures) {
  StopBudget budget(60);
  const auto warning = budget.after_save(55, 10);
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find("about 65 s"), std::string::npos) << *warning;
  EXPECT_NE(warning->find("60 s signal lead"), std::string::npos) << *warning;
}

TEST(StopBudget, WarnsAgainOnlyWhenTheEstimateGrowsByAQuarter) {
  StopBudget budget(10);
  EXPECT_TRUE(budget.after_save(20, 0));
  EXPECT_FALSE(budget.after_save(24, 0));
  EXPECT_FALSE(budget.after_save(10, 0));
  EXPECT_TRUE(budget.after_save(25, 0));
}

}  // namespace trainer
