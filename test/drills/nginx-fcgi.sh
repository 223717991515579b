# Sourced by the drills that load a FastCGI responder through nginx (nginx-wrk.sh, floor.sh).

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# cpu_ticks PID: the clock ticks PID has spent on CPU, user and system, its reaped children included.
cpu_ticks() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat"; }

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
