#include "engine/graph.h"

#include <gtest/gtest.h>

namespace pf::engine {
namespace {

Node MakeNode(std::string name, std::vector<std::string> in, std::vector<std::string> out) {
  Node n;
  n.name = std::move(name);
  n.op_type = "Relu";
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return n;
}

TEST(Graph, SortsProducersBeforeConsumers) {
  Graph g;
  g.inputs.push_back({"x", DType::kFloat, {1}});
  g.nodes = {MakeNode("c", {"b"}, {"y"}), MakeNode("b", {"a", "x"}, {"b"}), MakeNode("a", {"x"}, {"a"})};
  ASSERT_TRUE(g.SortTopologically().ok());
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[0].name, "a");
  EXPECT_EQ(g.nodes[1].name, "b");
  EXPECT_EQ(g.nodes[2].name, "c");
}

TEST(Graph, ReportsCycleWithNode) {
  Graph g;
  g.inputs.push_back({"x", DType::kFloat, {1}});
  g.nodes = {MakeNode("first", {"x"}, {"a"}), MakeNode("p", {"a", "q_out"}, {"p_out"}),
             MakeNode("q", {"p_out"}, {"q_out"})};
  Status s = g.SortTopologically();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "node 'p' (Relu): the graph has a cycle through this node");
}

TEST(Graph, ReportsUnknownInputAndDuplicateOutput) {
  Graph g;
  g.nodes = {MakeNode("", {"ghost"}, {"y"})};
  EXPECT_EQ(g.SortTopologically().message(),
            "node 'y' (Relu): input 'ghost' is not a graph input, an initializer or any node's output");
  Graph h;
  h.inputs.push_back({"x", DType::kFloat, {1}});
  h.nodes = {MakeNode("a", {"x"}, {"y"}), MakeNode("b", {"x"}, {"y"})};
  EXPECT_EQ(h.SortTopologically().message(), "node 'b' (Relu): value 'y' is produced more than once");
}

}  // namespace
}  // namespace pf::engine
