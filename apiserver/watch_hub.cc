#include "apiserver/watch_hub.h"

#include <algorithm>
#include <boost/json.hpp>

#include "common/metrics.h"

namespace tessera::apiserver {
namespace json = boost::json;

const char* eventTypeName(EventType t) {
  switch (t) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
  }
  return "ERROR";
}

Result<WatchEventPtr> makeWatchEvent(ChangeEvent change) {
  auto ev = std::make_shared<WatchEvent>();
  ev->rv = change.rv;
  ev->type = change.type;
  ev->key = std::move(change.key);
  boost::system::error_code ec;
  json::value v = json::parse(change.json, ec);
  if (ec || !v.is_object()) return internalError("stored object is not a JSON object");
  ev->object = std::move(v.get_object());
  ev->json = json::serialize(ev->object);
  if (!change.prevLabels.empty()) {
    json::value pl = json::parse(change.prevLabels, ec);
    ev->prevLabels = (!ec && pl.is_object()) ? std::move(pl.get_object()) : json::object();
  }
  return WatchEventPtr(std::move(ev));
}

WatchHub::WatchHub(std::size_t ringCapacity, std::size_t queueLimit, prometheus::Registry& metrics)
    : ringCapacity_(ringCapacity), queueLimit_(queueLimit) {
  watchersGauge_ = &prometheus::BuildGauge()
                        .Name("tessera_apiserver_watches")
                        .Help("Open watch streams")
                        .Register(metrics)
                        .Add({});
  overflows_ = &prometheus::BuildCounter()
                    .Name("tessera_apiserver_watch_overflows_total")
                    .Help("Watch streams ended because their client fell too far behind")
                    .Register(metrics)
                    .Add({});
  watermarkGauge_ = &prometheus::BuildGauge()
                         .Name("tessera_storage_watermark_resource_version")
                         .Help("Resource version up to which changes have been published")
                         .Register(metrics)
                         .Add({});
}

void WatchHub::publish(std::vector<WatchEventPtr> events, std::int64_t watermark) {
  std::vector<std::function<void()>> toNotify;
  {
    std::lock_guard lock(mu_);
    if (!ready_) {
      ringFloor_ = events.empty() ? watermark : events.front()->rv - 1;
      ready_ = true;
      readyCv_.notify_all();
    }
    std::vector<Subscription*> touched;
    for (auto& ev : events) {
      for (Subscription* s : subs_) {
        if (s->kind_ != ev->key.kind || ev->rv <= s->startRv_) continue;
        std::lock_guard slock(s->mu_);
        if (s->overflowed_) continue;
        if (s->queue_.size() >= queueLimit_) {
          s->overflowed_ = true;
          s->queue_.clear();
          overflows_->Increment();
        } else {
          s->queue_.push_back(ev);
        }
        if (touched.empty() || touched.back() != s) touched.push_back(s);
      }
      ring_.push_back(std::move(ev));
      if (ring_.size() > ringCapacity_) {
        ringFloor_ = ring_.front()->rv;
        ring_.pop_front();
      }
    }
    if (watermark > watermark_) watermark_ = watermark;
    watermarkGauge_->Set(static_cast<double>(watermark_));
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (Subscription* s : touched) toNotify.push_back(s->notify_);
  }
  for (auto& n : toNotify) {
    if (n) n();
  }
}

std::int64_t WatchHub::watermark() const {
  std::lock_guard lock(mu_);
  return watermark_;
}

bool WatchHub::waitReady(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return readyCv_.wait_for(lock, timeout, [&] { return ready_; });
}

std::shared_ptr<WatchHub::Subscription> WatchHub::subscribe(const std::string& kind,
                                                            std::function<void()> notify) {
  std::lock_guard lock(mu_);
  std::shared_ptr<Subscription> s(new Subscription(this, kind, watermark_, std::move(notify)));
  s->closed_ = closed_;
  subs_.push_back(s.get());
  watchersGauge_->Set(static_cast<double>(subs_.size()));
  return s;
}

void WatchHub::unsubscribe(Subscription* s) {
  std::lock_guard lock(mu_);
  subs_.remove(s);
  watchersGauge_->Set(static_cast<double>(subs_.size()));
}

bool WatchHub::replay(const std::string& kind, std::int64_t after, std::int64_t upTo,
                      std::vector<WatchEventPtr>& out) const {
  std::lock_guard lock(mu_);
  if (!ready_ || after < ringFloor_) return false;
  for (const auto& ev : ring_) {
    if (ev->rv <= after) continue;
    if (ev->rv > upTo) break;
    if (ev->key.kind == kind) out.push_back(ev);
  }
  return true;
}

void WatchHub::closeAll() {
  std::vector<std::function<void()>> toNotify;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    for (Subscription* s : subs_) {
      std::lock_guard slock(s->mu_);
      s->closed_ = true;
      toNotify.push_back(s->notify_);
    }
  }
  for (auto& n : toNotify) {
    if (n) n();
  }
}

std::size_t WatchHub::subscriberCount() const {
  std::lock_guard lock(mu_);
  return subs_.size();
}

WatchHub::Subscription::~Subscription() {
  hub_->unsubscribe(this);
}

std::vector<WatchEventPtr> WatchHub::Subscription::drain(bool& overflowed, bool& closed) {
  std::lock_guard lock(mu_);
  overflowed = overflowed_;
  closed = closed_;
  std::vector<WatchEventPtr> out;
  out.swap(queue_);
  return out;
}

}  // namespace tessera::apiserver
