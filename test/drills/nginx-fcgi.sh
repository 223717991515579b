# Sourced by the drills that load a FastCGI responder through nginx (nginx-wrk.sh, floor.sh).
# start_fcgi_nginx WORK PORT UPSTREAM: an nginx (one worker, its files and pid in WORK) on
# 127.0.0.1:PORT passing /adrater to UPSTREAM (host:port or unix:PATH) over kept connections.
start_fcgi_nginx() {
  cat > "$1/nginx.conf" <<CONF
user root; worker_processes 1; daemon on; pid $1/nginx.pid; error_log $1/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $1/b; fastcgi_temp_path $1/f; proxy_temp_path $1/p; uwsgi_temp_path $1/u; scgi_temp_path $1/s;
  upstream responder { server $3; keepalive 32; }
  server { listen 127.0.0.1:$2; location = /adrater { include /etc/nginx/fastcgi_params; fastcgi_keep_conn on; fastcgi_pass responder; } }
}
CONF
  nginx -c "$1/nginx.conf"
}
