// The registration against a local HTTP server that checks each request as Consul's agent API
// documents it (method, path, headers, JSON body), answering as the agent does.
#include "consul/consul.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "testing/consul_agent.h"
#include "testing/dovecot.h"  // FreePort

namespace dmarc::consul {
namespace {

using testing::FakeConsulAgent;

TEST(Consul, RegistersAndDeregistersAsTheAgentApiDocuments) {
  FakeConsulAgent agent;
  Options c;
  c.address = agent.address() + "/";
  c.token = "b1gs3cr3t-acl";
  c.service_name = "dmarc-report";
  c.service_id = "dmarc-report-jail1";
  c.service_address = "10.0.0.7";
  c.service_port = 8080;
  c.check_interval = "15s";
  c.check_timeout = "3s";
  c.deregister_after = "30m";
  Agent a(c);
  auto r = a.Register();
  ASSERT_TRUE(r) << r.error();
  auto d = a.Deregister();
  ASSERT_TRUE(d) << d.error();

  const auto reqs = agent.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].path, "/v1/agent/service/register");
  EXPECT_EQ(reqs[0].token, "b1gs3cr3t-acl");
  EXPECT_EQ(reqs[0].content_type, "application/json");
  const auto body = nlohmann::json::parse(reqs[0].body);
  EXPECT_EQ(body["ID"], "dmarc-report-jail1");
  EXPECT_EQ(body["Name"], "dmarc-report");
  EXPECT_EQ(body["Address"], "10.0.0.7");
  EXPECT_EQ(body["Port"], 8080);
  ASSERT_TRUE(body["Port"].is_number_integer());
  const auto& check = body["Check"];
  EXPECT_EQ(check["HTTP"], "http://10.0.0.7:8080/healthz");
  EXPECT_EQ(check["Method"], "GET");
  EXPECT_EQ(check["Interval"], "15s");
  EXPECT_EQ(check["Timeout"], "3s");
  EXPECT_EQ(check["DeregisterCriticalServiceAfter"], "30m");

  EXPECT_EQ(reqs[1].method, "PUT");
  EXPECT_EQ(reqs[1].path, "/v1/agent/service/deregister/dmarc-report-jail1");
  EXPECT_EQ(reqs[1].token, "b1gs3cr3t-acl");
}

TEST(Consul, DefaultsNameTheHostAndLeaveTheAddressToTheAgent) {
  FakeConsulAgent agent;
  Options c;
  c.address = agent.address();
  Agent a(c);
  ASSERT_TRUE(a.Register());
  const auto reqs = agent.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(reqs[0].token.empty());  // no header without a token
  const auto body = nlohmann::json::parse(reqs[0].body);
  EXPECT_TRUE(body["ID"].get<std::string>().starts_with("dmarc-report-")) << body;
  EXPECT_FALSE(body.contains("Address")) << body;
  EXPECT_EQ(body["Check"]["HTTP"], "http://127.0.0.1:8080/healthz");
  EXPECT_EQ(body["Check"]["Interval"], "10s");

  Options v6 = c;
  v6.service_address = "fd00::7";
  EXPECT_EQ(Agent(v6).check_url(), "http://[fd00::7]:8080/healthz");
}

TEST(Consul, AnAgentRefusalIsAnErrorNamingTheStatus) {
  FakeConsulAgent agent(403, "ACL not found\n");
  Options c;
  c.address = agent.address();
  c.token = "wrong";
  auto r = Agent(c).Register();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("answered 403: ACL not found (check consul.token)"), std::string::npos)
      << r.error();
}

TEST(Consul, AnUnreachableAgentIsAnErrorNamingTheUrl) {
  const int port = testing::FreePort();  // nothing listens there
  Options c;
  c.address = "http://127.0.0.1:" + std::to_string(port);
  auto r = Agent(c).Register();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("consul: PUT " + c.address + "/v1/agent/service/register failed"),
            std::string::npos)
      << r.error();
}

}  // namespace
}  // namespace dmarc::consul
