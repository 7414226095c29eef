#include "common/grpc_server.h"

#include <fstream>
#include <sstream>

namespace tessera {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

Result<std::unique_ptr<grpc::Server>> startGrpcServer(const GrpcListenOptions& options,
                                                      grpc::Service& service, int& boundPort) {
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (!options.tlsCertFile.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    std::string cert = readFile(options.tlsCertFile), key = readFile(options.tlsKeyFile);
    if (cert.empty() || key.empty()) {
      return invalidArgument("cannot read the TLS certificate or key for " + options.peers + " (" +
                             options.tlsCertFile + ", " + options.tlsKeyFile + ")");
    }
    ssl.pem_key_cert_pairs.push_back({std::move(key), std::move(cert)});
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, creds, &boundPort);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(options.maxReceiveBytes);
  // gRPC shares ports with SO_REUSEPORT by default: a second server on the same port would
  // silently take half of the peers. Refuse instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Dead peers (no RST) are noticed by keepalive pings; peers may ping us every 10 s.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  auto server = builder.BuildAndStart();
  if (!server || boundPort == 0) {
    return unavailable("cannot listen for " + options.peers + " on " + options.address);
  }
  return server;
}

std::string clientMetadata(const grpc::CallbackServerContext& ctx, std::string_view key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  return it == md.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

}  // namespace tessera
